"""Use cases of the audit service: log an event once, read a session's trail."""

import logging

import asyncpg

from intake_audit import domain, repo
from intake_contracts.commands import SessionRef, Trail
from intake_contracts.errors import DomainError, ErrorCode
from intake_runtime.messaging.dispatch import Command
from intake_runtime.messaging.events import ReceivedEvent

log = logging.getLogger(__name__)


class AuditService:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_batch(self, received: list[ReceivedEvent]) -> int:
        """Log a batch of received events in one transaction; returns how many were new.

        Raises:
            asyncpg.PostgresError, OSError: nothing was written; the batch must come again.
        """
        events = [domain.logged_event(envelope, topic) for topic, envelope in received]
        async with self._pool.acquire() as connection, connection.transaction():
            inserted = await repo.append_many(connection, events)
        log.debug("events logged", extra={"received": len(events), "new": inserted})
        return inserted

    async def get_trail(
        self, command: Command[SessionRef], connection: asyncpg.Connection
    ) -> Trail:
        """The session's events in the caller's tenant, oldest first; none for another tenant."""
        tenant_id = command.envelope.tenant_id
        if tenant_id is None:
            raise DomainError(ErrorCode.UNAUTHENTICATED, "query carries no tenant")
        session_id = command.payload.upload_session_id
        events = await repo.trail(connection, tenant_id, session_id)
        return Trail(upload_session_id=session_id, events=[domain.trail_entry(e) for e in events])
