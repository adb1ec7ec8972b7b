"""Intake completion service."""
