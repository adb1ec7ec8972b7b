"""Intake cleanup service."""
