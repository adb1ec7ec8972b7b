"""One initiate call is one trace across processes: gateway HTTP span, Kafka publish,
initiation's consume, and the reply.

The `system` fixture runs gateway and initiation with the console span exporter, one JSON
object per line in each process's log, so the test reads what the real processes exported
after the request crossed the real Kafka.
"""

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from intake_contracts import topics
from tests.conftest import Caller, System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def spans_in(log: Path) -> list[dict[str, Any]]:
    spans = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"context"' in line and '"trace_id"' in line:
            try:
                spans.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return spans


def trace_of(span: dict[str, Any]) -> str:
    return str(span["context"]["trace_id"])


async def test_initiate_is_one_trace_across_gateway_and_initiation(
    system: System, api: httpx.AsyncClient, caller: Caller
) -> None:
    file_name = f"traced-{uuid.uuid4().hex[:8]}.txt"
    answer = await api.post(
        "/app/uploads/initiate",
        headers=caller.headers,
        json={
            "file_name": file_name,
            "file_size": 10,
            "mime_type": "text/plain",
            "brand_id": caller.brand_id,
        },
    )
    assert answer.status_code == 201, answer.text
    session_id = answer.json()["upload_session_id"]
    gateway_log = system.processes["gateway"].log_path
    initiation_log = system.processes["initiation"].log_path

    async def request_span() -> list[dict[str, Any]]:
        # The gateway's server span of this request carries the session id only in the
        # response, so find it through the command it published: the newest initiate spans.
        return [
            span
            for span in spans_in(gateway_log)
            if span["kind"] == "SpanKind.SERVER" and "/app/uploads/initiate" in span["name"]
        ]

    server_spans = await eventually(request_span, bool, timeout_s=60)
    trace_ids = {trace_of(span) for span in server_spans}

    async def consumed() -> list[dict[str, Any]]:
        return [
            span
            for span in spans_in(initiation_log)
            if span["kind"] == "SpanKind.CONSUMER"
            and topics.INITIATION_COMMANDS in span["name"]
            and trace_of(span) in trace_ids
        ]

    consumer_spans = await eventually(consumed, bool, timeout_s=60)
    gateway_spans = [
        s for s in spans_in(gateway_log) if trace_of(s) == trace_of(consumer_spans[-1])
    ]
    kinds = {span["kind"] for span in gateway_spans}
    assert "SpanKind.SERVER" in kinds
    assert "SpanKind.PRODUCER" in kinds, [s["name"] for s in gateway_spans]
    assert session_id  # the request really created a session in that trace
