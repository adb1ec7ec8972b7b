"""Completion's fake of initiation, as its request/reply port sees it."""

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode, TransientError
from intake_contracts.sessions import (
    SessionRecord,
    UploadStatus,
)
from intake_initiation import domain as initiation_domain
from tests.support.fakes.runtime import BROKER_DOWN, NO_REPLY, Failure, FakeClock, raise_failure


def initiation_refusal(status: UploadStatus, failure_reason: str | None) -> DomainError:
    """What initiation answers for a session that is not (or no longer) live."""
    if status == UploadStatus.FAILED and failure_reason == initiation_domain.EXPIRED_REASON:
        return DomainError(ErrorCode.UPLOAD_SESSION_EXPIRED, "upload session has expired")
    return initiation_domain.refusal_for_terminal(status)


class FakeCompletionOutbound:
    """Completion's OutboundCommands: initiation's begin_completion and mark_completed rules over
    a dict of session records (initiation's pure rules where it has them), its refusals as the
    DomainError the real client raises; `stall()` and `cut_off()` make every call fail as the
    real client does when no reply comes in time or the broker does not take the command."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.sessions: dict[UUID, SessionRecord] = {}
        self.broken: dict[str, Failure] = {}
        self._now = clock or FakeClock()
        self._transport: BaseException | None = None

    def stall(self) -> None:
        self._transport = TransientError(ErrorCode.SERVICE_TIMEOUT, str(NO_REPLY))

    def cut_off(self) -> None:
        self._transport = TransientError(ErrorCode.SERVICE_UNAVAILABLE, str(BROKER_DOWN))

    def _call(self, operation: str) -> None:
        raise_failure(self._transport)
        raise_failure(self.broken.pop(operation, None))

    def _find(self, session_id: UUID, principal: Principal) -> SessionRecord:
        found = self.sessions.get(session_id)
        if found is None or found.tenant_id != principal.tenant_id:
            raise DomainError(ErrorCode.UPLOAD_SESSION_NOT_FOUND, "upload session not found")
        principal.require_brand(found.brand_id)
        return found

    async def begin_completion(self, session_id: UUID, principal: Principal) -> SessionRecord:
        self._call("begin_completion")
        found = self._find(session_id, principal)
        if found.status == UploadStatus.COMPLETED:
            return found
        if initiation_domain.is_terminal(found.status):
            raise initiation_refusal(found.status, found.failure_reason)
        if initiation_domain.is_expired(found.expires_at, self._now()):
            raise DomainError(ErrorCode.UPLOAD_SESSION_EXPIRED, "upload session has expired")
        if found.status != UploadStatus.UPLOADING:
            raise DomainError(ErrorCode.INVALID_SESSION_STATE, "upload has not started")
        return found

    async def mark_completed(
        self, session_id: UUID, asset_id: UUID, principal: Principal
    ) -> SessionRecord:
        self._call("mark_completed")
        initiation_domain.require_service(principal)
        found = self._find(session_id, principal)
        if found.status == UploadStatus.COMPLETED and found.asset_id == asset_id:
            return found
        if found.status != UploadStatus.UPLOADING:
            raise initiation_refusal(found.status, found.failure_reason)
        completed = found.model_copy(
            update={"status": UploadStatus.COMPLETED, "asset_id": asset_id}
        )
        self.sessions[session_id] = completed
        return completed
