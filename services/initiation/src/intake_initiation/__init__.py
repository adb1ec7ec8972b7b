"""Initiation service: owns upload sessions (schema `initiation`)."""
