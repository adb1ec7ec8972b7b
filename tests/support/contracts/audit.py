"""The audit service's contract suite: its recorded events."""

import uuid
from datetime import timedelta

from intake_audit.domain import RecordedEvent
from intake_audit.ports import Events
from tests.support.contracts.common import NOW


def recorded(tenant_id: str, session_id: uuid.UUID, minute: int) -> RecordedEvent:
    return RecordedEvent(
        event_id=uuid.uuid4(),
        type="upload.initiated",
        tenant_id=tenant_id,
        upload_session_id=session_id,
        occurred_at=NOW + timedelta(minutes=minute),
        payload={"upload_session_id": str(session_id), "n": minute},
        topic="intake.uploads.events",
    )


class EventsContract:
    """What audit's use cases rely on from any Events."""

    async def test_an_event_is_recorded_once(self, events: Events) -> None:
        tenant, session_id = f"t-{uuid.uuid4().hex[:8]}", uuid.uuid4()
        first = recorded(tenant, session_id, 0)
        assert await events.append_many([first, first]) == 1
        assert await events.append_many([first]) == 0
        assert await events.of_session(tenant, session_id) == [first]

    async def test_a_sessions_events_are_oldest_first_and_of_one_tenant(
        self, events: Events
    ) -> None:
        tenant, session_id = f"t-{uuid.uuid4().hex[:8]}", uuid.uuid4()
        late, early = recorded(tenant, session_id, 5), recorded(tenant, session_id, 1)
        await events.append_many([late, early, recorded("another-tenant", session_id, 2)])
        assert await events.of_session(tenant, session_id) == [early, late]
        assert await events.of_session(tenant, uuid.uuid4()) == []
