"""Intake audit service."""
