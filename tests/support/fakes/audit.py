"""The audit service's fake of its recorded events."""

from uuid import UUID

from intake_audit.domain import RecordedEvent


class FakeEvents:
    """Audit's Events port over a list: dedupe by event id, a session's events oldest first, then in
    arrival order (the SQL's `ORDER BY occurred_at, seq`)."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []

    async def append_many(self, events: list[RecordedEvent]) -> int:
        known = {event.event_id for event in self.events}
        new = []
        for event in events:
            if event.event_id not in known:
                known.add(event.event_id)
                new.append(event)
        self.events.extend(new)
        return len(new)

    async def of_session(self, tenant_id: str, upload_session_id: UUID) -> list[RecordedEvent]:
        mine = [
            e
            for e in self.events
            if e.tenant_id == tenant_id and e.upload_session_id == upload_session_id
        ]
        return sorted(mine, key=lambda event: event.occurred_at)
