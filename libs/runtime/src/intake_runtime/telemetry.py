"""OpenTelemetry tracing, configured from the standard OTEL_* variables; off by default.

Without OTEL_TRACES_EXPORTER or an OTLP endpoint the global provider stays the API's no-op
one, so every span a library starts costs a context lookup and nothing more. Kafka hops carry
W3C context through FastStream's KafkaTelemetryMiddleware, the outbox stores it per event.
"""

import logging
import os
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

log = logging.getLogger(__name__)

_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def exporter_name(env: Mapping[str, str]) -> str | None:
    """Which exporter the environment asks for: `otlp`, `console`, or None for tracing off."""
    named = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true" or named == "none":
        return None
    if named:
        return named.split(",")[0].strip()
    # The OTel default exporter is OTLP, but we only turn it on when told where it goes.
    return "otlp" if any(env.get(name) for name in _ENDPOINT_VARIABLES) else None


def tracing_on(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process exports spans: only then are the HTTP and Kafka tracing
    middlewares installed (with the no-op provider they still cost a tenth of the gateway's
    CPU per request, measured with py-spy). Tracing is on or off for a whole deployment: a
    process with it off does not pass a caller's trace context on."""
    return exporter_name(os.environ if env is None else env) is not None


def build_exporter(name: str) -> SpanExporter:
    if name == "console":
        # One JSON object per line, so a span can be found in a log with grep.
        return ConsoleSpanExporter(formatter=lambda span: span.to_json(indent=None) + "\n")
    if name == "otlp":
        # Imported here: the exporter pulls in protobuf and requests, useless when tracing is off.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        return OTLPSpanExporter()  # endpoint, headers, timeout: read from OTEL_EXPORTER_OTLP_*
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r} is not supported (otlp, console, none)")


def configure_tracing(service: str, env: Mapping[str, str] | None = None) -> TracerProvider | None:
    """Install a global TracerProvider when the environment asks for one.

    Returns:
        The provider (shut it down at exit to flush the last spans), or None when tracing is off.
    """
    env = os.environ if env is None else env
    name = exporter_name(env)
    if name is None:
        return None
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES still win: Resource.create merges them in.
    resource = Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or f"intake-{service}"})
    provider = TracerProvider(resource=resource)  # sampler: OTEL_TRACES_SAMPLER, parent-based
    provider.add_span_processor(BatchSpanProcessor(build_exporter(name)))
    trace.set_tracer_provider(provider)
    log.info("tracing on", extra={"exporter": name})
    return provider


def shutdown_tracing(provider: TracerProvider | None) -> None:
    if provider is not None:
        provider.shutdown()
