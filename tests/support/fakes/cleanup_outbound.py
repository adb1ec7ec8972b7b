"""Cleanup's fakes of the services it asks, and of the reply topics it sweeps."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from intake_cleanup.domain import IndexedSession
from intake_contracts.commands import (
    CompletionResult,
    FailedSessions,
    PruneResult,
)
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.sessions import (
    StatusView,
    UploadStatus,
)
from intake_initiation import domain as initiation_domain
from tests.support.fakes.completion_outbound import initiation_refusal
from tests.support.fakes.initiation import LIVE
from tests.support.fakes.runtime import BROKER_DOWN, NO_REPLY, Failure, raise_failure


class FakeCleanupOutbound:
    """Initiation and completion as cleanup asks them. Initiation knows the sessions in
    `statuses` (each in the tenant `tenants` names): fail_sessions is its compare-and-set, which
    spares a session active since the cutoff (`activity`) or not yet expired (`expiry`);
    complete answers from `assets`; prunes drain `backlog` (each row by when it finished) up to
    the cutoff; promoting keys per tenant. `broken` makes an operation fail on its next call
    (once); `stall()` and `cut_off()` make every call fail as the real client does."""

    def __init__(self) -> None:
        self.statuses: dict[UUID, UploadStatus] = {}
        self.tenants: dict[UUID, str] = {}
        self.activity: dict[UUID, datetime] = {}
        self.expiry: dict[UUID, datetime] = {}
        self.assets: dict[UUID, CompletionResult] = {}
        self.backlog: dict[str, list[datetime]] = {"initiation": [], "completion": []}
        self.promoting: dict[str, set[str]] = {}
        self.broken: dict[str, Failure] = {}
        self.fail_calls: list[tuple[list[UUID], str]] = []
        self.completed: list[UUID] = []
        self._transport: BaseException | None = None

    def stall(self) -> None:
        self._transport = NO_REPLY

    def cut_off(self) -> None:
        self._transport = BROKER_DOWN

    def _call(self, operation: str) -> None:
        raise_failure(self._transport)
        raise_failure(self.broken.pop(operation, None))

    def know(self, session: IndexedSession, status: UploadStatus, *, active_at: datetime) -> None:
        """Initiation holds `session` (in its tenant) at `status`, last active at `active_at`."""
        self.statuses[session.id] = status
        self.tenants[session.id] = session.tenant_id
        self.activity[session.id] = active_at
        self.expiry[session.id] = session.expires_at

    def _status(self, session: IndexedSession) -> UploadStatus | None:
        if self.tenants.get(session.id) != session.tenant_id:
            return None  # each row is looked up in its own tenant
        return self.statuses.get(session.id)

    def _spared(
        self, session_id: UUID, idle_before: datetime | None, expired_at: datetime | None
    ) -> bool:
        """initiation's conditions, re-checked inside its compare-and-set."""
        active = idle_before is not None and self.activity[session_id] >= idle_before
        alive = expired_at is not None and self.expiry[session_id] > expired_at
        return active or alive

    async def fail_sessions(
        self,
        sessions: Sequence[IndexedSession],
        reason: str,
        *,
        idle_before: datetime | None = None,
        expired_at: datetime | None = None,
    ) -> FailedSessions:
        self._call("fail_sessions")
        self.fail_calls.append(([s.id for s in sessions], reason))
        moved, unchanged = [], []
        for session in sessions:
            status = self._status(session)
            if status is None:
                continue
            if status in LIVE and not self._spared(session.id, idle_before, expired_at):
                self.statuses[session.id] = UploadStatus.FAILED
                moved.append(session.id)
            else:
                unchanged.append(StatusView(upload_session_id=session.id, status=status))
        return FailedSessions(moved=sorted(moved), unchanged=unchanged)

    async def complete(self, session: IndexedSession) -> CompletionResult:
        self._call(f"complete:{session.id}")
        self.completed.append(session.id)
        found = self.assets.get(session.id)
        if found is not None and found.asset.tenant_id == session.tenant_id:
            return found
        status = self._status(session)
        if status is not None and initiation_domain.is_terminal(status):
            raise initiation_refusal(status, None)
        raise DomainError(ErrorCode.UPLOAD_SESSION_NOT_FOUND, "upload session not found")

    def _prune(self, name: str, older_than: datetime, limit: int) -> PruneResult:
        self._call(f"prune:{name}")
        doomed = sorted(at for at in self.backlog[name] if at < older_than)[:limit]
        for at in doomed:
            self.backlog[name].remove(at)
        return PruneResult(removed=len(doomed), inbox_removed=0, outbox_removed=0)

    async def prune_sessions(self, older_than: datetime, limit: int) -> PruneResult:
        return self._prune("initiation", older_than, limit)

    async def prune_completions(self, older_than: datetime, limit: int) -> PruneResult:
        return self._prune("completion", older_than, limit)

    async def promoting_keys(self, tenant_id: str, keys: list[str]) -> set[str]:
        self._call(f"promoting:{tenant_id}")
        return self.promoting.get(tenant_id, set()) & set(keys)


class FakeReplyTopics:
    """Cleanup's ReplyTopics: topic → held by a live consumer (only the topics under the
    prefix are reply topics); `refuse` names topics whose deletion the broker refuses."""

    def __init__(self, prefix: str = "intake.replies.") -> None:
        self._prefix = prefix
        self.topics: dict[str, bool] = {}
        self.refuse: set[str] = set()
        self.deleted: list[str] = []

    def prefix(self) -> str:
        return self._prefix

    async def liveness(self) -> dict[str, bool]:
        return {t: live for t, live in sorted(self.topics.items()) if t.startswith(self._prefix)}

    async def delete(self, doomed: list[str]) -> dict[str, str | None]:
        outcome: dict[str, str | None] = {}
        for topic in doomed:
            if topic in self.refuse:
                outcome[topic] = "refused"
                continue
            self.topics.pop(topic, None)
            self.deleted.append(topic)
            outcome[topic] = None
        return outcome
