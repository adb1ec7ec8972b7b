"""Use cases of the initiation service: domain rules, the repository and the outbox of one
unit of work (one transaction), and the session's storage. Every dependency is a port. The
URLs a session hands out are made in presigned_urls.py; a batch's per-file entries in
batch_files.py."""

import logging
import uuid

from pydantic import BaseModel

from intake_contracts import keys
from intake_contracts.commands import (
    BatchFile,
    BatchItem,
    BatchResult,
    FailedSessions,
    FailSessions,
    InitiateBatch,
    InitiateUpload,
    MarkCompleted,
    MarkFailed,
    SessionRef,
    SignParts,
)
from intake_contracts.errors import DomainError, ErrorCode, TransientError
from intake_contracts.events import STATUS_EVENT
from intake_contracts.sessions import (
    ActivityView,
    PartUrls,
    ResumeView,
    SessionRecord,
    SessionView,
    StatusView,
    UploadStatus,
)
from intake_initiation import batch_files, domain, integrity, views
from intake_initiation.domain import Session
from intake_initiation.ports import SessionStorage, Unit
from intake_initiation.presigned_urls import SessionUrls
from intake_initiation.settings import InitiationSettings
from intake_runtime.messaging.dispatch import Command
from intake_runtime.ports import Clock, utc_now

log = logging.getLogger(__name__)


class InitiationService:
    def __init__(
        self, settings: InitiationSettings, storage: SessionStorage, clock: Clock = utc_now
    ) -> None:
        self._settings = settings
        self._storage = storage
        self._now = clock
        self._urls = SessionUrls(storage, settings.presigned_url_ttl_s)

    # --- creating sessions -------------------------------------------------------------

    async def initiate(self, command: Command[InitiateUpload], tx: Unit) -> SessionView:
        # Named by its command: a redelivery names the same session, which is what lets the
        # runner write it in one statement with the inbox claim (repo.CLAIM_LAST).
        session_id = domain.session_id_for(command.envelope.message_id)
        return await self._initiate(command.payload, command, tx, session_id)

    async def initiate_batch(self, command: Command[InitiateBatch], tx: Unit) -> BatchResult:
        """Each file under its own savepoint: one file's failure never touches another's."""
        batch = command.payload
        batch_reference = batch.batch_reference or str(uuid.uuid4())
        items = [
            await self._initiate_in_batch(file, batch, batch_reference, command, tx)
            for file in batch.files
        ]
        return BatchResult(batch_reference=batch_reference, uploads=items)

    async def _initiate_in_batch(
        self,
        file: BatchFile,
        batch: InitiateBatch,
        batch_reference: str,
        command: Command[InitiateBatch],
        tx: Unit,
    ) -> BatchItem:
        """One file's outcome; whatever goes wrong with it, it is this file's error entry."""
        reference = file.client_reference
        try:
            request = batch_files.file_request(file, batch, batch_reference)
            async with tx.savepoint():
                view = await self._initiate(request, command, tx, uuid.uuid4())
        except Exception as error:
            return BatchItem(
                client_reference=reference, error=batch_files.file_error(error, reference)
            )
        return BatchItem(client_reference=reference, session=view)

    async def _initiate(
        self, request: InitiateUpload, command: Command[BaseModel], tx: Unit, session_id: uuid.UUID
    ) -> SessionView:
        principal = command.principal
        principal.require_brand(request.brand_id)
        domain.validate_file(
            request.file_name, request.file_size, request.mime_type, self._settings.max_file_size
        )
        domain.check_mime_policy(
            request.mime_type,
            self._settings.allowed_mime_type_patterns,
            self._settings.denied_mime_type_patterns,
        )
        domain.validate_checksum(request.checksum_sha256)
        integrity.check_request(
            request,
            self._settings.supported_checksum_algorithms,
            domain.strategy_for(request.file_size),
        )
        if request.idempotency_key:
            existing = await tx.sessions.by_idempotency_key(
                principal.tenant_id, request.idempotency_key
            )
            if existing is not None:
                return await self._replay(existing, request)
        placement = domain.Placement(
            bucket=keys.bucket_for(
                self._settings.aws_bucket,
                self._settings.storage_provision_strategy,
                principal.tenant_id,
            ),
            ttl_s=self._settings.session_ttl_s,
            default_chunk_size=self._settings.default_chunk_size,
        )
        draft = domain.draft(request, principal, session_id, self._now(), placement)
        # Storage first, so the session is stored UPLOADING in one insert (one round trip
        # fewer than insert-then-transition); nobody saw it INITIATING either way, as both
        # happened in one transaction, and both lifecycle events are still emitted.
        opened = domain.opened(draft, await self._storage.open(draft))
        if opened.multipart_upload_id is not None:
            # Only this attempt's upload: a redelivery's session shares the temp key.
            tx.if_discarded(lambda: self._storage.abort_upload(opened))
        try:
            session = await tx.sessions.insert(opened)
        except DomainError:  # over the tenant's quota: nothing of it stays
            await self._remove_residue(opened)
            raise
        if session is None:  # a concurrent request with the same key committed first
            await self._remove_residue(opened)
            existing = await tx.sessions.by_idempotency_key(
                principal.tenant_id, request.idempotency_key or ""
            )
            if existing is None:
                raise TransientError(ErrorCode.SERVICE_UNAVAILABLE, "idempotency race, retry")
            return await self._replay(existing, request)
        await self._emit(tx, draft, None, command)
        await self._emit(tx, session, draft.status, command)
        return await self._view(session)

    async def _replay(self, existing: Session, request: InitiateUpload) -> SessionView:
        domain.check_replay(existing, domain.fingerprint(request))
        return await self._view(existing)

    # --- reading and signing -----------------------------------------------------------

    async def get_session(self, command: Command[SessionRef], tx: Unit) -> SessionView:
        return await self._view(await self._load(command, tx))

    async def sign_parts(self, command: Command[SignParts], tx: Unit) -> PartUrls:
        session = await self._load(command, tx)
        now = self._now()
        domain.require_live_multipart(session, now)
        assert session.part_count is not None  # noqa: S101 - a live multipart session has it
        numbers = command.payload.part_numbers
        domain.check_part_numbers(numbers, session.part_count)
        checksums = integrity.part_checksums(
            session.checksum_algorithm, numbers, command.payload.checksums
        )
        await tx.sessions.touch(session.id, session.tenant_id, now)
        return await self._urls.parts(session, numbers, checksums, now)

    async def resume(self, command: Command[SessionRef], tx: Unit) -> ResumeView:
        session = await self._load(command, tx)
        now = self._now()
        resumable = domain.can_resume(session.status, session.expires_at, now)
        if resumable:
            session = await tx.sessions.touch(session.id, session.tenant_id, now) or session
        parts = await self._storage.uploaded_parts(session) if resumable else []
        direct = await self._urls.direct_upload(session, now)
        return views.resume_view(session, resumable, parts, direct)

    async def touch_activity(self, command: Command[SessionRef], tx: Unit) -> ActivityView:
        session = await self._load(command, tx)
        now = self._now()
        domain.require_live(session, now)
        touched = await tx.sessions.touch(session.id, session.tenant_id, now)
        if touched is None:  # turned terminal between the read and the touch
            raise domain.refusal_for_terminal(session.status)
        return views.activity_view(touched)

    # --- status changes ------------------------------------------------------------------

    async def cancel(self, command: Command[SessionRef], tx: Unit) -> StatusView:
        session = await self._load(command, tx)
        if not domain.is_terminal(session.status):
            cancelled = await self._try_transition(tx, session, UploadStatus.CANCELLED, command)
            if cancelled is not None:
                await self._remove_residue(cancelled)
                session = cancelled
            else:
                session = await self._reload(tx, session)
        return views.status_view(session)

    async def begin_completion(self, command: Command[SessionRef], tx: Unit) -> SessionRecord:
        session = await self._load(command, tx)
        domain.require_startable_completion(session, self._now())
        return views.record(session)

    async def mark_completed(self, command: Command[MarkCompleted], tx: Unit) -> SessionRecord:
        domain.require_service(command.principal)
        session = await self._load(command, tx)
        asset_id = command.payload.asset_id
        completed = await self._try_transition(
            tx, session, UploadStatus.COMPLETED, command, asset_id=asset_id
        )
        if completed is not None:
            return views.record(completed)
        current = await self._reload(tx, session)
        if current.status == UploadStatus.COMPLETED and current.asset_id == asset_id:
            return views.record(current)  # a retry of a completion that already won
        raise domain.refusal(current)

    async def mark_failed(self, command: Command[MarkFailed], tx: Unit) -> StatusView:
        """Fails a live session; the conditions are re-checked inside the compare-and-set, so a
        client that touched the session after the caller looked is never failed."""
        domain.require_service(command.principal)
        session = await self._load(command, tx)
        failed = None
        if not domain.is_terminal(session.status):
            failed = await self._try_transition(
                tx,
                session,
                UploadStatus.FAILED,
                command,
                failure_reason=command.payload.reason,
                idle_before=command.payload.idle_before,
                expired_at=command.payload.expired_at,
            )
        if failed is not None:
            await self._remove_residue(failed)
        current = failed or await self._reload(tx, session)
        return views.status_view(current)

    async def fail_sessions(self, command: Command[FailSessions], tx: Unit) -> FailedSessions:
        """MarkFailed for a whole batch in one compare-and-set, each row in its own tenant: one
        lifecycle event per session moved. The storage residue is left to the caller (cleanup
        removes it outside this transaction, and its orphan jobs find whatever stays)."""
        domain.require_service(command.principal)
        request = command.payload
        wanted = [(row.upload_session_id, row.tenant_id) for row in request.sessions]
        failed = await tx.sessions.fail_many(
            wanted,
            request.reason,
            self._now(),
            idle_before=request.idle_before,
            expired_at=request.expired_at,
        )
        # The whole batch's events at once (a bulk failure moves up to a thousand sessions).
        await tx.outbox.add_many(
            [
                (
                    STATUS_EVENT[session.status],
                    views.lifecycle_event(session, previous),
                    str(session.id),
                    session.tenant_id,
                )
                for session, previous in failed
            ],
            correlation_id=command.envelope.correlation_id,
            principal=command.envelope.principal,
        )
        moved = {session.id for session, _ in failed}
        others = await tx.sessions.statuses([row for row in wanted if row[0] not in moved])
        return FailedSessions(
            moved=sorted(moved),
            unchanged=[StatusView(upload_session_id=i, status=s) for i, s in others.items()],
        )

    # --- helpers --------------------------------------------------------------------------

    async def _load(self, command: Command[SessionRef], tx: Unit) -> Session:
        """The caller's session; another tenant's is exactly as missing as a nonexistent one."""
        principal = command.principal
        session = await tx.sessions.get(command.payload.upload_session_id, principal.tenant_id)
        if session is None:
            raise DomainError(ErrorCode.UPLOAD_SESSION_NOT_FOUND, "upload session not found")
        principal.require_brand(session.brand_id)
        return session

    async def _reload(self, tx: Unit, session: Session) -> Session:
        return await tx.sessions.get(session.id, session.tenant_id) or session

    async def _try_transition(
        self,
        tx: Unit,
        session: Session,
        target: UploadStatus,
        command: Command[BaseModel],
        **changes: object,
    ) -> Session | None:
        changed = await tx.sessions.transition(
            session,
            target,
            domain.sources_of(target),
            self._now(),
            **changes,  # type: ignore[arg-type]
        )
        if changed is not None:
            await self._emit(tx, changed, session.status, command)
        return changed

    async def _emit(
        self,
        tx: Unit,
        session: Session,
        previous: UploadStatus | None,
        command: Command[BaseModel],
    ) -> None:
        await tx.outbox.add(
            STATUS_EVENT[session.status],
            views.lifecycle_event(session, previous),
            key=str(session.id),
            tenant_id=session.tenant_id,
            correlation_id=command.envelope.correlation_id,
            principal=command.envelope.principal,
        )

    async def _remove_residue(self, session: Session) -> None:
        """Best effort: whatever stays behind is found later by the cleanup jobs."""
        try:
            await self._storage.remove_residue(session)
        except Exception as error:
            log.warning(
                "storage residue left for cleanup",
                extra={"upload_session_id": str(session.id), "error": str(error)},
            )

    async def _view(self, session: Session) -> SessionView:
        return views.session_view(session, await self._urls.direct_upload(session, self._now()))
