"""Pure rules of the audit service's events: what a received event is recorded as, and how
it is shown."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from intake_contracts.commands import EventView
from intake_contracts.envelope import Envelope


@dataclass(frozen=True)
class RecordedEvent:
    event_id: UUID
    type: str
    tenant_id: str | None
    upload_session_id: UUID | None
    occurred_at: datetime
    payload: dict[str, Any]
    topic: str


def recorded_event(envelope: Envelope, topic: str) -> RecordedEvent:
    """The row of one recorded event; its envelope id is the dedupe key across redeliveries."""
    return RecordedEvent(
        event_id=envelope.message_id,
        type=envelope.type,
        # Cleanup acts on its own behalf, so its envelope may carry no tenant: the payload does.
        tenant_id=envelope.tenant_id or _text(envelope.payload.get("tenant_id")),
        upload_session_id=session_of(envelope.payload),
        occurred_at=envelope.occurred_at,
        payload=envelope.payload,
        topic=topic,
    )


def session_of(payload: dict[str, Any]) -> UUID | None:
    """The upload session an event concerns; None for events about no session (job runs)."""
    raw = payload.get("upload_session_id")
    if raw is None:
        return None
    try:
        return UUID(str(raw))
    except ValueError:
        return None


def event_view(event: RecordedEvent) -> EventView:
    return EventView(
        event_id=event.event_id,
        type=event.type,
        occurred_at=event.occurred_at,
        data=event.payload,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
