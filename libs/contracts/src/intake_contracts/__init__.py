"""Intake's contracts: every command, reply, event, error code and topic, as pydantic models."""
