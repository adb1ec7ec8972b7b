"""Consumers wait for fetches as long as INTAKE_KAFKA_FETCH_WAIT_MS says."""

from intake_runtime.messaging import kafka
from intake_runtime.settings import ServiceSettings


def test_the_fetch_wait_comes_from_the_settings() -> None:
    assert kafka.consumer_options(ServiceSettings())["fetch_max_wait_ms"] == 500
    tuned = ServiceSettings(INTAKE_KAFKA_FETCH_WAIT_MS="120")
    assert kafka.consumer_options(tuned)["fetch_max_wait_ms"] == 120
