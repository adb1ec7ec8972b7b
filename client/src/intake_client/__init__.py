"""Intake client library and CLI."""
