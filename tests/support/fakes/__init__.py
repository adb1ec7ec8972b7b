"""In-memory fakes of the ports, one module per service, for unit tests only (never beyond them:
integration and end-to-end tests run the real Postgres, S3 and Kafka). Each fake passes the same
contract suite as its real adapter (tests/support/contracts/)."""
