"""Shared runtime of the Intake services: settings, logging, messaging, Postgres, S3, telemetry."""
