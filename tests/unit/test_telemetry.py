"""Tracing stays off unless the standard OTEL_* variables ask for it."""

import pytest

from intake_runtime.telemetry import exporter_name


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, "otlp"),
    ],
)
def test_exporter_follows_the_environment(env: dict[str, str], expected: str | None) -> None:
    assert exporter_name(env) == expected


def test_the_kafka_tracing_middleware_is_installed_only_when_spans_are_exported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

    from intake_runtime.messaging import kafka
    from intake_runtime.settings import ServiceSettings
    from intake_runtime.telemetry import tracing_on

    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert not tracing_on()
    assert list(kafka.build_broker(ServiceSettings(), "t").config.broker_middlewares) == []
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert tracing_on()
    [middleware] = kafka.build_broker(ServiceSettings(), "t").config.broker_middlewares
    assert isinstance(middleware, KafkaTelemetryMiddleware)
