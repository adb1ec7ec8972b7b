"""What the audit use cases need from the world: the recorded events (repo.py is their Postgres
adapter, tests/support/fakes/audit.py their fake, tests/support/contracts/audit.py their one
contract)."""

from typing import Protocol
from uuid import UUID

from intake_audit.domain import RecordedEvent


class Events(Protocol):
    async def append_many(self, events: list[RecordedEvent]) -> int:
        """Record the events in one transaction, in their order; how many were new (an event
        recorded before changes nothing)."""
        ...

    async def of_session(self, tenant_id: str, upload_session_id: UUID) -> list[RecordedEvent]:
        """The session's events in the tenant, oldest first."""
        ...
