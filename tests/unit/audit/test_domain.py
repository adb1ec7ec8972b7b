"""What a received event is recorded as, and how a recorded event reads in a session's events."""

import uuid
from datetime import UTC, datetime
from typing import Any

from intake_audit.domain import event_view, recorded_event, session_of
from intake_contracts import topics
from intake_contracts.envelope import Envelope


def _envelope(payload: dict[str, Any], tenant_id: str | None = "t-1") -> Envelope:
    return Envelope(
        type="upload.initiated",
        correlation_id="c-1",
        tenant_id=tenant_id,
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        payload=payload,
    )


def test_event_is_recorded_under_its_envelope_id_tenant_and_session() -> None:
    session_id = uuid.uuid4()
    envelope = _envelope({"upload_session_id": str(session_id), "tenant_id": "t-1"})

    event = recorded_event(envelope, topics.UPLOAD_EVENTS)

    assert event.event_id == envelope.message_id
    assert event.type == "upload.initiated"
    assert event.tenant_id == "t-1"
    assert event.upload_session_id == session_id
    assert event.occurred_at == envelope.occurred_at
    assert event.topic == topics.UPLOAD_EVENTS


def test_tenant_falls_back_to_the_payload_when_the_envelope_has_none() -> None:
    event = recorded_event(_envelope({"tenant_id": "t-9"}, tenant_id=None), topics.CLEANUP_EVENTS)

    assert event.tenant_id == "t-9"


def test_event_about_no_session_is_recorded_without_one() -> None:
    assert session_of({"job": "expired_sessions"}) is None
    assert session_of({"upload_session_id": None}) is None
    assert session_of({"upload_session_id": "not-a-uuid"}) is None


def test_event_view_shows_type_time_id_and_payload() -> None:
    payload = {"upload_session_id": str(uuid.uuid4()), "status": "INITIATING"}
    event = recorded_event(_envelope(payload), topics.UPLOAD_EVENTS)

    entry = event_view(event)

    assert entry.event_id == event.event_id
    assert entry.type == "upload.initiated"
    assert entry.occurred_at == event.occurred_at
    assert entry.data == payload
