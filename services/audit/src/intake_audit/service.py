"""Use cases of the audit service: record an event once, read a session's events."""

import logging

from intake_audit import domain
from intake_audit.ports import Events
from intake_contracts.commands import EventsView, SessionRef
from intake_contracts.errors import DomainError, ErrorCode
from intake_runtime.messaging.dispatch import Command
from intake_runtime.messaging.events import ReceivedEvent

log = logging.getLogger(__name__)


class AuditService:
    def __init__(self, events: Events) -> None:
        self._events = events

    async def record_batch(self, received: list[ReceivedEvent]) -> int:
        """Record a batch of received events in one transaction; returns how many were new.

        Raises:
            asyncpg.PostgresError, OSError: nothing was written; the batch must come again.
        """
        events = [domain.recorded_event(envelope, topic) for topic, envelope in received]
        inserted = await self._events.append_many(events)
        log.debug("events recorded", extra={"received": len(events), "new": inserted})
        return inserted

    async def get_events(
        self,
        command: Command[SessionRef],
        _: None,  # a single read: no transaction of its own
    ) -> EventsView:
        """The session's events in the caller's tenant, oldest first; none for another tenant."""
        tenant_id = command.envelope.tenant_id
        if tenant_id is None:
            raise DomainError(ErrorCode.UNAUTHENTICATED, "query carries no tenant")
        session_id = command.payload.upload_session_id
        events = await self._events.of_session(tenant_id, session_id)
        return EventsView(
            upload_session_id=session_id, events=[domain.event_view(e) for e in events]
        )
