"""What the audit use cases need from the world: the event log (repo.py is its Postgres
adapter, tests/support/fakes.py its fake, tests/support/contracts.py their one contract)."""

from typing import Protocol
from uuid import UUID

from intake_audit.domain import LoggedEvent


class EventLog(Protocol):
    async def append_many(self, events: list[LoggedEvent]) -> int:
        """Log the events in one transaction, in their order; how many were new (an event
        logged before changes nothing)."""
        ...

    async def trail(self, tenant_id: str, upload_session_id: UUID) -> list[LoggedEvent]:
        """The session's events in the tenant, oldest first."""
        ...
