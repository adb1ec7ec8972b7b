"""The commands cleanup sends to other services, over Kafka request/reply, as the system.

What each call raises is the OutboundCommands port's promise (ports.py)."""

from collections.abc import Sequence
from datetime import datetime

from intake_cleanup.domain import IndexedSession
from intake_cleanup.settings import SERVICE
from intake_contracts.commands import (
    Commands,
    CommandSpec,
    CompleteUpload,
    CompletionResult,
    FailedSessions,
    FailSessions,
    PromotingKeys,
    PruneOlderThan,
    PruneResult,
    SessionOfTenant,
)
from intake_contracts.envelope import Principal
from intake_runtime.messaging import requests
from intake_runtime.messaging.requests import RequestReplyClient

SYSTEM_USER = "system:cleanup"
# The tenant a command acting in many tenants (bulk failure, pruning) is sent as; each
# row of a bulk failure names its own.
SYSTEM_TENANT = "system"


def system_principal(tenant_id: str) -> Principal:
    """Cleanup acts inside the session's tenant, as a service, never as a user."""
    return Principal(user_id=SYSTEM_USER, tenant_id=tenant_id, service=SERVICE)


class KafkaOutboundCommands:
    def __init__(self, client: RequestReplyClient) -> None:
        self._client = client

    async def fail_sessions(
        self,
        sessions: Sequence[IndexedSession],
        reason: str,
        *,
        idle_before: datetime | None = None,
        expired_at: datetime | None = None,
    ) -> FailedSessions:
        """One command for a whole batch (at most MAX_SESSIONS_PER_FAIL sessions)."""
        command = FailSessions(
            sessions=[
                SessionOfTenant(upload_session_id=s.id, tenant_id=s.tenant_id) for s in sessions
            ],
            reason=reason,
            idle_before=idle_before,
            expired_at=expired_at,
        )
        return await requests.call(
            self._client,
            Commands.FAIL_SESSIONS,
            command,
            principal=system_principal(SYSTEM_TENANT),
            key=str(sessions[0].id),
        )

    async def complete(self, session: IndexedSession) -> CompletionResult:
        """Run the completion saga again; it converges on the same Asset every time."""
        return await requests.call(
            self._client,
            Commands.COMPLETE,
            CompleteUpload(upload_session_id=session.id),
            principal=system_principal(session.tenant_id),
            key=str(session.id),
        )

    async def prune_sessions(self, older_than: datetime, limit: int) -> PruneResult:
        """One prune batch in initiation (terminal sessions, inbox, outbox)."""
        return await self._prune(Commands.PRUNE_TERMINAL_SESSIONS, older_than, limit)

    async def prune_completions(self, older_than: datetime, limit: int) -> PruneResult:
        """One prune batch in completion (finished sagas, inbox, outbox; never Assets)."""
        return await self._prune(Commands.PRUNE_COMPLETION_RECORDS, older_than, limit)

    async def promoting_keys(self, tenant_id: str, keys: list[str]) -> set[str]:
        """The keys of `tenant_id` whose promotion completion still owns."""
        view = await requests.call(
            self._client,
            Commands.PROMOTING_KEYS,
            PromotingKeys(object_keys=keys),
            principal=system_principal(tenant_id),
            key=tenant_id,
        )
        return set(view.promoting)

    async def _prune(
        self, command: CommandSpec[PruneOlderThan, PruneResult], older_than: datetime, limit: int
    ) -> PruneResult:
        return await requests.call(
            self._client,
            command,
            PruneOlderThan(older_than=older_than, limit=limit),
            principal=system_principal(SYSTEM_TENANT),
        )
