"""Kafka messaging: broker set-up, topic provisioning, request/reply and command dispatch."""
