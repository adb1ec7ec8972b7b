"""One initiate call is one trace: gateway HTTP span, Kafka publish, initiation's handling.

Gateway and initiation run in this process (create_app and initiation's `running()`), with an
in-memory exporter on the global provider: the assertion reads spans directly, with no export
timing and no collector to decode. The trace still crosses the real Kafka: initiation consumes
in its broker's own task, whose context predates the request, so a shared trace id can only
come from the W3C headers of the message. initiation's process from the `system` fixture is
stopped meanwhile, or it would take half of the command partitions in the same consumer group.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from intake_contracts import topics
from intake_gateway.app import create_app
from intake_gateway.settings import GatewaySettings
from intake_initiation.app import running
from intake_initiation.settings import InitiationSettings
from tests.conftest import Caller, System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(provider)  # once per process: this module owns tracing in tests
    return spans


@contextlib.contextmanager
def initiation_process_paused(system: System) -> Iterator[None]:
    process = system.processes["initiation"]
    process.stop()
    try:
        yield
    finally:
        process.start()
        process.wait_ready(90)


@contextlib.asynccontextmanager
async def in_process_services(
    stack_env: dict[str, str],
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    # Field names (not env aliases) for the stack's values; everything else keeps its default.
    values = {key.lower(): value for key, value in stack_env.items()}
    async with (
        running(InitiationSettings.model_validate(values)),
        AsyncTestClient(create_app(GatewaySettings.model_validate(values)), timeout=30) as client,
    ):
        yield client


def _initiation_consumed(spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [
        span
        for span in spans
        if span.kind == SpanKind.CONSUMER and topics.INITIATION_COMMANDS in span.name
    ]


async def test_initiate_is_one_trace_across_gateway_and_initiation(
    system: System, stack_env: dict[str, str], caller: Caller, exporter: InMemorySpanExporter
) -> None:
    with initiation_process_paused(system):
        async with in_process_services(stack_env) as client:
            exporter.clear()
            answer = await client.post(
                "/app/uploads/initiate",
                headers=caller.headers,
                json={
                    "file_name": f"traced-{uuid.uuid4().hex[:6]}.txt",
                    "file_size": 10,
                    "mime_type": "text/plain",
                    "brand_id": caller.brand_id,
                },
            )
            assert answer.status_code == 201, answer.text
            # Fails when another initiation outside this test (a shared stack) took the command.
            spans = await eventually(
                lambda: _async(exporter.get_finished_spans()),
                lambda s: bool(_initiation_consumed(s)),
            )

    server = [s for s in spans if s.kind == SpanKind.SERVER and "initiate" in s.name]
    published = [
        s for s in spans if s.kind == SpanKind.PRODUCER and topics.INITIATION_COMMANDS in s.name
    ]
    consumed = _initiation_consumed(spans)
    assert server, [s.name for s in spans]
    assert published, [s.name for s in spans]
    trace_id = server[0].context.trace_id
    assert {s.context.trace_id for s in [*published, *consumed]} == {trace_id}


async def _async(value: tuple[ReadableSpan, ...]) -> tuple[ReadableSpan, ...]:
    return value
