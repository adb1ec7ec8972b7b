"""Use cases of the audit service: log an event once, read a session's trail."""

import logging

import asyncpg
from pydantic import ValidationError

from intake_audit import domain, repo
from intake_contracts.commands import SessionRef, Trail
from intake_contracts.errors import DomainError, ErrorCode
from intake_runtime.logs import session_in_scope, tenant_in_scope
from intake_runtime.messaging.dispatch import Command
from intake_runtime.messaging.envelopes import decode

log = logging.getLogger(__name__)


class AuditService:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, body: bytes, topic: str) -> bool:
        """Log one received event; True when new. An undecodable message is dropped, logged.

        Raises:
            asyncpg.PostgresError, OSError: the log was not written; the event must come again.
        """
        try:
            envelope = decode(body)
        except (ValueError, ValidationError) as error:
            # Retrying cannot fix a malformed message; holding the partition for it would.
            log.warning("undecodable event dropped", extra={"topic": topic, "error": str(error)})
            return False
        event = domain.logged_event(envelope, topic)
        tenant_in_scope.set(event.tenant_id)
        session_in_scope.set(str(event.upload_session_id) if event.upload_session_id else None)
        inserted = await repo.append(self._pool, event)
        log.debug("event logged", extra={"type": event.type, "new": inserted})
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
