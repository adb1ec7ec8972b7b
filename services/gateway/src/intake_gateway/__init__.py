"""Intake gateway: the HTTP API."""
