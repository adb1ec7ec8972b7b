"""The completion use case: the saga that turns a finished upload into exactly one Asset."""

import asyncio
import functools
import logging
import os
from collections.abc import Callable
from typing import Final, Protocol
from uuid import UUID, uuid4

from intake_completion import domain, faults, integrity, leases, metrics, saga, views
from intake_completion.domain import Asset, CheckedObject
from intake_completion.ports import CompletionStorage, OutboundCommands, SagaDatabase
from intake_completion.settings import CRASH_AFTER_MARK_COMPLETED, SERVICE, CompletionSettings
from intake_contracts import keys
from intake_contracts.commands import CompleteUpload, CompletionResult
from intake_contracts.errors import DomainError, ErrorCode, TransientError
from intake_contracts.sessions import SessionRecord, UploadStatus
from intake_runtime.messaging.dispatch import Command
from intake_runtime.ports import Clock, utc_now

log = logging.getLogger(__name__)

# How often a completion waiting on another one of the same session looks again.
_POLL_S: Final = 0.05


class Promotions(Protocol):
    """Starts the saga's background steps (promotion.Promoter)."""

    def start(
        self, session_id: UUID, correlation_id: str = "", lease: saga.PromotionLease | None = None
    ) -> None: ...


class CompletionService:
    def __init__(  # noqa: PLR0917 - the composition root hands every port in
        self,
        settings: CompletionSettings,
        database: SagaDatabase,
        storage: CompletionStorage,
        sessions: OutboundCommands,
        promoter: Promotions,
        clock: Clock = utc_now,
        crash: Callable[[int], object] = os._exit,
    ) -> None:
        self._settings = settings
        self._db = database
        self._storage = storage
        self._sessions = sessions
        self._promoter = promoter
        self._now = clock
        self._crash = crash

    async def complete(self, command: Command[CompleteUpload], _: None) -> CompletionResult:
        """The Asset of a finished upload, answered once it is recorded (before promotion).

        No transaction spans the S3 work: each step commits on its own (see saga.py).
        """
        result = await self._complete(command)
        metrics.observe_result(result.created)
        return result

    async def _complete(self, command: Command[CompleteUpload]) -> CompletionResult:
        domain.check_title(command.payload.title)
        deadline = asyncio.get_running_loop().time() + self._settings.session_lock_timeout_s
        while True:
            recorded = await self._recorded(command)
            if recorded is not None:
                return recorded
            session, claimed = await self._claim(command)
            if claimed is not None:
                return await self._finalize(session, claimed, command)
            await self._wait_for_other(session.upload_session_id, deadline)

    async def _recorded(self, command: Command[CompleteUpload]) -> CompletionResult | None:
        """The stored Asset's answer, or None. Both reads are scoped to the caller's tenant and
        come before any wait: another tenant's session is refused at once."""
        session_id = command.payload.upload_session_id
        existing, foreign = await self._db.saga.asset_and_foreign_saga(
            session_id, command.tenant_id
        )
        if existing is not None:
            command.principal.require_brand(existing.brand_id)
            if existing.promoted_at is None:  # a retry (or reconcile) nudges a stalled promotion
                self._promote_after_reply(command, session_id)
            return views.result(existing, created=False)
        if foreign:
            raise DomainError(ErrorCode.UPLOAD_SESSION_NOT_FOUND, "upload session not found")
        return None

    async def _claim(
        self, command: Command[CompleteUpload]
    ) -> tuple[SessionRecord, saga.Attempt | None]:
        """The session, and a lease on its finalization unless another worker holds it.

        Raises:
            DomainError: initiation's refusal (not found, cancelled, expired...).
            TransientError: service_unavailable when the tenant is at its cap.
        """
        session = await self._sessions.begin_completion(
            command.payload.upload_session_id, command.principal
        )
        owner = uuid4()
        async with self._db.transaction() as tx:
            await tx.saga.lock_tenant(session.tenant_id)
            claimed, running = await tx.saga.open_and_claim(
                session.upload_session_id,
                session.tenant_id,
                session.asset_id or keys.asset_id_for(session.upload_session_id),
                owner,
                self._settings.lease_s,
            )
            if claimed is not None and not saga.within_cap(running, self._settings.tenant_cap):
                raise TransientError(  # rolls the claim back
                    ErrorCode.SERVICE_UNAVAILABLE,
                    f"{running} completions of this tenant are running; retry shortly",
                )
        return session, claimed

    async def _wait_for_other(self, session_id: UUID, deadline: float) -> None:
        """Until the worker holding the session records the Asset, gives up, or crashes.

        Raises:
            TransientError: service_timeout at the deadline.
        """
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            await asyncio.sleep(_POLL_S)
            attempt = await self._db.saga.attempt(session_id)
            if (
                attempt is None
                or saga.asset_recorded(attempt.step)
                or saga.lease_free(attempt.lease_until, self._now())
            ):
                return
        raise TransientError(
            ErrorCode.SERVICE_TIMEOUT, "another completion of this upload is still running"
        )

    async def _finalize(
        self, session: SessionRecord, claimed: saga.Attempt, command: Command[CompleteUpload]
    ) -> CompletionResult:
        session_id, owner = session.upload_session_id, claimed.lease_owner
        assert owner is not None  # noqa: S101 - a claimed attempt has its owner
        try:
            async with leases.held(self._db.leases, session_id, owner, self._settings.lease_s):
                if session.status != UploadStatus.COMPLETED:
                    session, checked = await self._finish_upload(session, command)
                else:  # a retry after MarkCompleted: the object is looked at again
                    checked = await self._storage.look(session)
                # From here the session is COMPLETED: a crash before the Asset is recorded is
                # repaired by a retry (or reconcile), which claims the step again.
                asset, created = await self._record(session, owner, command, checked)
        except BaseException as error:
            await leases.release(self._db.leases, session_id, owner, error)
            raise
        if created:
            # Recording kept the lease for promoting: the promoter takes it with the Asset,
            # so it neither claims the step again nor reads the Asset back.
            lease = saga.PromotionLease(owner, asset, claimed.tries)
            self._promote_after_reply(command, session_id, lease)
        else:
            await leases.release(self._db.leases, session_id, owner, None)
            self._promote_after_reply(command, session_id)
        return views.result(asset, created=created)

    def _promote_after_reply(
        self,
        command: Command[CompleteUpload],
        session_id: UUID,
        lease: saga.PromotionLease | None = None,
    ) -> None:
        """The promotion starts once the reply is sent: it must not take the loop from it."""
        start = self._promoter.start
        command.after_reply(
            functools.partial(start, session_id, command.envelope.correlation_id, lease)
        )

    async def _finish_upload(
        self, session: SessionRecord, command: Command[CompleteUpload]
    ) -> tuple[SessionRecord, CheckedObject]:
        """Finalize and verify the bytes, then have initiation record COMPLETED."""
        try:
            checked = await self._storage.finalize(session, command.payload.parts)
            declared_sha256 = integrity.declared_sha256(session)
            if declared_sha256:
                await self._storage.verify_checksum(session, declared_sha256)
        except DomainError:
            # A concurrent cancel removes the bytes: its refusal is the truer answer.
            await self._sessions.begin_completion(session.upload_session_id, command.principal)
            raise
        completed = await self._sessions.mark_completed(
            session.upload_session_id,
            keys.asset_id_for(session.upload_session_id),
            domain.acting_as(command.principal, SERVICE),
        )
        faults.inject(self._settings, CRASH_AFTER_MARK_COMPLETED, self._crash)
        return completed, checked

    async def _record(
        self,
        session: SessionRecord,
        owner: UUID,
        command: Command[CompleteUpload],
        checked: CheckedObject,
    ) -> tuple[Asset, bool]:
        """Insert the Asset at the temp key with its event and move the saga on, in one
        statement; (the Asset, whether this call created it)."""
        asset_id = session.asset_id or keys.asset_id_for(session.upload_session_id)
        draft = views.draft(session, asset_id, session.temp_key, command.payload.title, checked)
        asset = await self._db.record_asset(
            draft,
            views.created_event(draft),
            owner,
            lease_s=self._settings.lease_s,
            correlation_id=command.envelope.correlation_id,
            principal=command.envelope.principal,
        )
        if asset is None:
            # Recorded by a worker whose lease had expired under us, or our lease lost to one
            # still at work: let it finish.
            stored = await self._db.saga.asset(session.upload_session_id, session.tenant_id)
            if stored is not None:
                return stored, False
            raise TransientError(ErrorCode.SERVICE_TIMEOUT, "this completion was taken over; retry")
        log.info("asset created", extra={"asset_id": str(asset.asset_id)})
        return asset, True
