"""A session's events as the audit service recorded them: every lifecycle event once, oldest first, even when redelivered."""

import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from intake_contracts.envelope import Envelope
from intake_runtime.messaging import names
from tests.conftest import Caller, new_caller
from tests.support import stack
from tests.support.api import initiate, upload_and_complete
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

FULL_UPLOAD = [
    "upload.initiated",
    "upload.uploading",
    "upload.completed",
    "asset.created",
    "asset.promoted",  # after `complete` answered: the object moved to its permanent key
]
# The schemas whose outbox published this session's events (test-side read, never a service's).
OUTBOX_SCHEMAS = ("initiation", "completion")


async def _events(api: httpx.AsyncClient, caller: Caller, session_id: str) -> list[dict[str, Any]]:
    answer = await api.get(f"/app/uploads/{session_id}/events", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


async def _upload_directly(api: httpx.AsyncClient, caller: Caller, body: bytes) -> str:
    name = f"audit-{uuid.uuid4().hex[:6]}.txt"
    return await upload_and_complete(api, caller, body, file_name=name, mime_type="text/plain")


async def _published(db: asyncpg.Connection, event_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = []
    for schema in OUTBOX_SCHEMAS:
        rows += await db.fetch(
            f"SELECT topic, key, envelope FROM {schema}.outbox WHERE event_id = ANY($1::uuid[])",
            event_ids,
        )
    return rows


async def _redeliver(stack_env: dict[str, str], rows: list[asyncpg.Record]) -> list[uuid.UUID]:
    """Publish every envelope again, then one fresh marker behind it on the same partition.

    Returns the markers' ids: once audit has logged them, it has seen every duplicate before.
    """
    markers = []
    producer = AIOKafkaProducer(**stack.kafka_access(stack_env).client_options())
    await producer.start()
    try:
        for row in rows:
            key = row["key"].encode()
            await producer.send_and_wait(
                names.topic(row["topic"]), _encode(row["envelope"]), key=key
            )
            # A valid copy under a fresh id and a stranger tenant: it lands, but among no session's events of this tenant.
            marker = Envelope.model_validate_json(_encode(row["envelope"])).model_copy(
                update={
                    "message_id": uuid.uuid4(),
                    "tenant_id": f"t-marker-{uuid.uuid4().hex[:8]}",
                    "correlation_id": "audit-redelivery-marker",
                }
            )
            await producer.send_and_wait(
                names.topic(row["topic"]), marker.model_dump_json().encode(), key=key
            )
            markers.append(marker.message_id)
    finally:
        await producer.stop()
    return markers


def _encode(envelope: dict[str, Any] | str) -> bytes:
    return (
        Envelope.model_validate_json(
            envelope if isinstance(envelope, str) else json.dumps(envelope)
        )
        .model_dump_json()
        .encode()
    )


async def test_full_upload_yields_each_lifecycle_event_once_in_order(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    session_id = await _upload_directly(api, caller, b"audit me " * 100)

    recorded = await eventually(
        lambda: _events(api, caller, session_id), lambda events: len(events) >= len(FULL_UPLOAD)
    )

    assert [event["type"] for event in recorded] == FULL_UPLOAD
    assert len({event["event_id"] for event in recorded}) == len(FULL_UPLOAD)
    assert all(event["data"]["upload_session_id"] == session_id for event in recorded)


async def test_redelivered_events_leave_the_recorded_events_unchanged(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection, stack_env: dict[str, str]
) -> None:
    session_id = await _upload_directly(api, caller, b"twice " * 100)
    before = await eventually(
        lambda: _events(api, caller, session_id), lambda events: len(events) >= len(FULL_UPLOAD)
    )
    rows = await _published(db, [uuid.UUID(event["event_id"]) for event in before])
    assert len(rows) == len(FULL_UPLOAD)

    markers = await _redeliver(stack_env, rows)
    await eventually(
        lambda: db.fetchval(
            "SELECT count(*) FROM audit.events WHERE event_id = ANY($1::uuid[])", markers
        ),
        lambda logged: logged == len(markers),
    )

    assert await _events(api, caller, session_id) == before


async def test_events_of_another_tenants_session_are_not_found(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    session = await initiate(api, caller, 10, file_name="private.txt", mime_type="text/plain")
    session_id = session["upload_session_id"]
    await eventually(lambda: _events(api, caller, session_id), lambda events: len(events) >= 2)

    stranger = new_caller()
    denied = await api.get(f"/app/uploads/{session_id}/events", headers=stranger.headers)

    assert denied.status_code == 404


async def test_an_initiated_sessions_events_are_initiated_then_uploading(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    """Runs without the completion service: the events of a session not yet completed."""
    session = await initiate(api, caller, 10, file_name="pending.txt", mime_type="text/plain")
    session_id = session["upload_session_id"]

    recorded = await eventually(
        lambda: _events(api, caller, session_id), lambda events: len(events) >= 2
    )

    assert [event["type"] for event in recorded] == ["upload.initiated", "upload.uploading"]
