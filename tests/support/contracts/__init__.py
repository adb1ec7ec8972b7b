"""One contract suite per port, one module per service: the same tests hold the in-memory fake
(tests/unit) and the real adapter against the stack's Postgres, S3 and Kafka (tests/integration,
tests/e2e) to the same behaviour.

A suite is a class; a test module subclasses it and provides the port as a fixture.
"""
