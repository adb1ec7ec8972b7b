"""The audit service's contract suite: the event log."""

import uuid
from datetime import timedelta

from intake_audit.domain import LoggedEvent
from intake_audit.ports import EventLog
from tests.support.contracts.common import NOW


def logged(tenant_id: str, session_id: uuid.UUID, minute: int) -> LoggedEvent:
    return LoggedEvent(
        event_id=uuid.uuid4(),
        type="upload.initiated",
        tenant_id=tenant_id,
        upload_session_id=session_id,
        occurred_at=NOW + timedelta(minutes=minute),
        payload={"upload_session_id": str(session_id), "n": minute},
        topic="intake.uploads.events",
    )


class EventLogContract:
    """What audit's use cases rely on from any EventLog."""

    async def test_an_event_is_logged_once(self, events: EventLog) -> None:
        tenant, session_id = f"t-{uuid.uuid4().hex[:8]}", uuid.uuid4()
        first = logged(tenant, session_id, 0)
        assert await events.append_many([first, first]) == 1
        assert await events.append_many([first]) == 0
        assert await events.trail(tenant, session_id) == [first]

    async def test_a_trail_is_oldest_first_and_of_one_tenant(self, events: EventLog) -> None:
        tenant, session_id = f"t-{uuid.uuid4().hex[:8]}", uuid.uuid4()
        late, early = logged(tenant, session_id, 5), logged(tenant, session_id, 1)
        await events.append_many([late, early, logged("another-tenant", session_id, 2)])
        assert await events.trail(tenant, session_id) == [early, late]
        assert await events.trail(tenant, uuid.uuid4()) == []
