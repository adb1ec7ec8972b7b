"""Use cases of the initiation service: domain rules + repo + storage inside one transaction."""

import hashlib
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from pydantic import BaseModel, ValidationError

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
from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorBody, ErrorCode, TransientError
from intake_contracts.events import STATUS_EVENT
from intake_contracts.sessions import (
    ActivityView,
    PartUrl,
    PartUrls,
    ResumeView,
    SessionRecord,
    SessionView,
    StatusView,
    UploadedPart,
    UploadStatus,
    UploadType,
)
from intake_initiation import domain, repo, views
from intake_initiation.repo import Session
from intake_initiation.settings import InitiationSettings
from intake_runtime.messaging.dispatch import Command
from intake_runtime.postgres.outbox import Outbox
from intake_runtime.storage.s3 import ObjectStore

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
EXPIRED_REASON = "expired"


def utc_now() -> datetime:
    return datetime.now(UTC)


class InitiationService:
    def __init__(
        self,
        settings: InitiationSettings,
        store: ObjectStore,
        outbox: Outbox,
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._store = store
        self._outbox = outbox
        self._now = clock

    # --- creating sessions -------------------------------------------------------------

    async def initiate(
        self, command: Command[InitiateUpload], tx: asyncpg.Connection
    ) -> SessionView:
        return await self._initiate(command.payload, command, tx)

    async def initiate_batch(
        self, command: Command[InitiateBatch], tx: asyncpg.Connection
    ) -> BatchResult:
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
        tx: asyncpg.Connection,
    ) -> BatchItem:
        """One file's outcome; whatever goes wrong with it, it is this file's error entry."""
        reference = file.client_reference
        try:
            request = InitiateUpload(
                file_name=file.file_name,
                file_size=file.file_size,
                mime_type=file.mime_type,
                brand_id=file.brand_id or batch.brand_id,
                client_reference=reference,
                batch_reference=batch_reference,
            )
            async with tx.transaction():
                view = await self._initiate(request, command, tx)
        except (DomainError, TransientError) as error:
            return BatchItem(client_reference=reference, error=error.body())
        except ValidationError as error:
            detail = f"invalid file: {error.errors()[0]['msg']}"
            return BatchItem(
                client_reference=reference,
                error=ErrorBody(code=ErrorCode.VALIDATION_FAILED, detail=detail),
            )
        except Exception as error:
            log.exception("batch file failed", extra={"client_reference": reference})
            detail = f"this file could not be initiated ({type(error).__name__}); retry it"
            return BatchItem(
                client_reference=reference,
                error=ErrorBody(code=ErrorCode.INTERNAL_ERROR, detail=detail),
            )
        return BatchItem(client_reference=reference, session=view)

    async def _initiate(
        self, request: InitiateUpload, command: Command[BaseModel], tx: asyncpg.Connection
    ) -> SessionView:
        principal = command.principal
        domain.require_brand(request.brand_id, principal.brand_ids)
        domain.validate_file(
            request.file_name, request.file_size, request.mime_type, self._settings.max_file_size
        )
        domain.check_mime_policy(
            request.mime_type,
            self._settings.allowed_mime_type_patterns,
            self._settings.denied_mime_type_patterns,
        )
        domain.validate_checksum(request.checksum_sha256)
        fingerprint = _fingerprint(request)
        if request.idempotency_key:
            existing = await repo.by_idempotency_key(
                tx, principal.tenant_id, request.idempotency_key
            )
            if existing is not None:
                return await self._replay(existing, fingerprint)
        draft = self._draft(request, principal, fingerprint)
        session = await repo.insert(tx, draft)
        if session is None:  # a concurrent request with the same key committed first
            existing = await repo.by_idempotency_key(
                tx, principal.tenant_id, request.idempotency_key or ""
            )
            if existing is None:
                raise TransientError(ErrorCode.SERVICE_UNAVAILABLE, "idempotency race, retry")
            return await self._replay(existing, fingerprint)
        await self._emit(tx, session, None, command)
        upload_id = await self._open_storage(session)
        uploading = await self._transition(
            tx, session, UploadStatus.UPLOADING, command, multipart_upload_id=upload_id
        )
        return await self._view(uploading)

    def _draft(self, request: InitiateUpload, principal: Principal, fingerprint: str) -> Session:
        now = self._now()
        session_id = uuid.uuid4()
        upload_type = domain.strategy_for(request.file_size)
        chunk_size = part_count = None
        if upload_type == UploadType.MULTIPART:
            chunk_size = domain.chunk_size_for(request.file_size, self._settings.default_chunk_size)
            part_count = domain.part_count_for(request.file_size, chunk_size)
        return Session(
            id=session_id,
            tenant_id=principal.tenant_id,
            brand_id=request.brand_id,
            user_id=principal.user_id,
            status=UploadStatus.INITIATING,
            file_name=request.file_name,
            mime_type=request.mime_type,
            size_bytes=request.file_size,
            upload_type=upload_type,
            chunk_size=chunk_size,
            part_count=part_count,
            bucket=keys.bucket_for(
                self._settings.aws_bucket,
                self._settings.storage_provision_strategy,
                principal.tenant_id,
            ),
            temp_key=keys.temp_key(session_id),
            multipart_upload_id=None,
            client_reference=request.client_reference,
            batch_reference=request.batch_reference,
            category_id=request.category_id,
            checksum_sha256=request.checksum_sha256,
            idempotency_key=request.idempotency_key,
            request_fingerprint=fingerprint,
            expires_at=now + timedelta(seconds=self._settings.session_ttl_s),
            last_activity_at=now,
            failure_reason=None,
            asset_id=None,
            created_at=now,
        )

    async def _open_storage(self, session: Session) -> str | None:
        await self._store.ensure_bucket(session.bucket)
        if session.upload_type != UploadType.MULTIPART:
            return None
        return await self._store.create_multipart(
            session.bucket, session.temp_key, session.mime_type
        )

    async def _replay(self, existing: Session, fingerprint: str) -> SessionView:
        if existing.request_fingerprint != fingerprint:
            raise DomainError(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                "this Idempotency-Key was used for a different request",
            )
        return await self._view(existing)

    # --- reading and signing -----------------------------------------------------------

    async def get_session(
        self, command: Command[SessionRef], tx: asyncpg.Connection
    ) -> SessionView:
        return await self._view(await self._load(command, tx))

    async def sign_parts(self, command: Command[SignParts], tx: asyncpg.Connection) -> PartUrls:
        session = await self._load(command, tx)
        self._require_live_multipart(session)
        assert session.part_count is not None  # noqa: S101 - a live multipart session has both
        assert session.multipart_upload_id is not None  # noqa: S101
        assert session.chunk_size is not None  # noqa: S101
        domain.check_part_numbers(command.payload.part_numbers, session.part_count)
        await repo.touch(tx, session.id, session.tenant_id)
        now = self._now()
        expires_at = domain.url_expiry(now, self._settings.presigned_url_ttl_s, session.expires_at)
        expires_s = max(1, int((expires_at - now).total_seconds()))
        parts = [
            PartUrl(
                part_number=number,
                url=await self._store.presign_part(
                    session.bucket,
                    session.temp_key,
                    session.multipart_upload_id,
                    number,
                    content_length=domain.part_size(number, session.size_bytes, session.chunk_size),
                    expires_s=expires_s,
                ),
                expires_at=expires_at,
            )
            for number in command.payload.part_numbers
        ]
        return PartUrls(parts=parts)

    async def resume(self, command: Command[SessionRef], tx: asyncpg.Connection) -> ResumeView:
        session = await self._load(command, tx)
        now = self._now()
        resumable = domain.can_resume(session.status, session.expires_at, now)
        if resumable:
            session = await repo.touch(tx, session.id, session.tenant_id) or session
        parts = await self._uploaded_parts(session) if resumable else []
        return ResumeView(
            upload_session_id=session.id,
            status=session.status,
            upload_type=session.upload_type,
            can_resume=resumable,
            expires_at=session.expires_at,
            chunk_size=session.chunk_size,
            part_count=session.part_count,
            multipart_upload_id=session.multipart_upload_id,
            uploaded_parts=parts,
            uploaded_bytes=sum(part.size for part in parts),
            direct=await views.direct_upload(
                self._store, session, now, self._settings.presigned_url_ttl_s
            ),
        )

    async def _uploaded_parts(self, session: Session) -> list[UploadedPart]:
        if session.multipart_upload_id is None:
            return []
        stored = await self._store.list_parts(
            session.bucket, session.temp_key, session.multipart_upload_id
        )
        return [UploadedPart(part_number=p.part_number, size=p.size, etag=p.etag) for p in stored]

    async def touch_activity(
        self, command: Command[SessionRef], tx: asyncpg.Connection
    ) -> ActivityView:
        session = await self._load(command, tx)
        self._require_live(session)
        touched = await repo.touch(tx, session.id, session.tenant_id)
        if touched is None:  # turned terminal between the read and the touch
            raise domain.refusal_for_terminal(session.status)
        return ActivityView(
            upload_session_id=touched.id,
            status=touched.status,
            last_activity_at=touched.last_activity_at,
        )

    # --- status changes ------------------------------------------------------------------

    async def cancel(self, command: Command[SessionRef], tx: asyncpg.Connection) -> StatusView:
        session = await self._load(command, tx)
        if not domain.is_terminal(session.status):
            cancelled = await self._try_transition(tx, session, UploadStatus.CANCELLED, command)
            if cancelled is not None:
                await self._remove_residue(cancelled)
                session = cancelled
            else:
                session = await self._reload(tx, session)
        return StatusView(upload_session_id=session.id, status=session.status)

    async def begin_completion(
        self, command: Command[SessionRef], tx: asyncpg.Connection
    ) -> SessionRecord:
        session = await self._load(command, tx)
        if session.status != UploadStatus.COMPLETED:
            self._require_live(session)
            if session.status != UploadStatus.UPLOADING:
                raise DomainError(ErrorCode.INVALID_SESSION_STATE, "upload has not started")
        return views.record(session)

    async def mark_completed(
        self, command: Command[MarkCompleted], tx: asyncpg.Connection
    ) -> SessionRecord:
        self._require_service(command)
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
        raise self._refusal(current)

    async def mark_failed(self, command: Command[MarkFailed], tx: asyncpg.Connection) -> StatusView:
        """Fails a live session; the conditions are re-checked inside the compare-and-set, so a
        client that touched the session after the caller looked is never failed."""
        self._require_service(command)
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
        return StatusView(upload_session_id=current.id, status=current.status)

    async def fail_sessions(
        self, command: Command[FailSessions], tx: asyncpg.Connection
    ) -> FailedSessions:
        """MarkFailed for a whole batch in one statement, each row in its own tenant: one
        lifecycle event per session moved. The storage residue is left to the caller (cleanup
        removes it outside this transaction, and its orphan jobs find whatever stays)."""
        self._require_service(command)
        request = command.payload
        wanted = [(row.upload_session_id, row.tenant_id) for row in request.sessions]
        failed = await repo.fail_many(
            tx,
            wanted,
            request.reason,
            idle_before=request.idle_before,
            expired_at=request.expired_at,
        )
        await self._outbox.add_many(
            tx,
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
        others = await repo.statuses(tx, [row for row in wanted if row[0] not in moved])
        return FailedSessions(
            moved=sorted(moved),
            unchanged=[StatusView(upload_session_id=i, status=s) for i, s in others.items()],
        )

    # --- helpers --------------------------------------------------------------------------

    async def _load(self, command: Command[SessionRef], tx: asyncpg.Connection) -> Session:
        """The caller's session; another tenant's is exactly as missing as a nonexistent one."""
        principal = command.principal
        session = await repo.get(tx, command.payload.upload_session_id, principal.tenant_id)
        if session is None:
            raise DomainError(ErrorCode.UPLOAD_SESSION_NOT_FOUND, "upload session not found")
        if principal.service is None:
            domain.require_brand(session.brand_id, principal.brand_ids)
        return session

    async def _reload(self, tx: asyncpg.Connection, session: Session) -> Session:
        return await repo.get(tx, session.id, session.tenant_id) or session

    def _require_live(self, session: Session) -> None:
        if domain.is_terminal(session.status):
            raise self._refusal(session)
        if domain.is_expired(session.expires_at, self._now()):
            raise DomainError(ErrorCode.UPLOAD_SESSION_EXPIRED, "upload session has expired")

    def _require_live_multipart(self, session: Session) -> None:
        self._require_live(session)
        if session.upload_type != UploadType.MULTIPART or session.status != UploadStatus.UPLOADING:
            raise DomainError(
                ErrorCode.INVALID_SESSION_STATE, "part URLs exist only for multipart uploads"
            )

    def _refusal(self, session: Session) -> DomainError:
        if session.status == UploadStatus.FAILED and session.failure_reason == EXPIRED_REASON:
            return DomainError(ErrorCode.UPLOAD_SESSION_EXPIRED, "upload session has expired")
        return domain.refusal_for_terminal(session.status)

    @staticmethod
    def _require_service(command: Command[BaseModel]) -> None:
        if command.principal.service is None:
            raise DomainError(ErrorCode.PERMISSION_DENIED, "only Intake services may do this")

    async def _try_transition(
        self,
        tx: asyncpg.Connection,
        session: Session,
        target: UploadStatus,
        command: Command[BaseModel],
        **changes: object,
    ) -> Session | None:
        changed = await repo.transition(
            tx,
            session,
            target,
            domain.sources_of(target),
            **changes,  # type: ignore[arg-type]
        )
        if changed is not None:
            await self._emit(tx, changed, session.status, command)
        return changed

    async def _transition(
        self,
        tx: asyncpg.Connection,
        session: Session,
        target: UploadStatus,
        command: Command[BaseModel],
        **changes: object,
    ) -> Session:
        changed = await self._try_transition(tx, session, target, command, **changes)
        if changed is None:
            raise DomainError(ErrorCode.INVALID_SESSION_STATE, f"session left {session.status}")
        return changed

    async def _emit(
        self,
        tx: asyncpg.Connection,
        session: Session,
        previous: UploadStatus | None,
        command: Command[BaseModel],
    ) -> None:
        await self._outbox.add(
            tx,
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
            if session.multipart_upload_id is not None:
                await self._store.abort_multipart(
                    session.bucket, session.temp_key, session.multipart_upload_id
                )
            await self._store.delete(session.bucket, session.temp_key)
        except Exception as error:
            log.warning(
                "storage residue left for cleanup",
                extra={"upload_session_id": str(session.id), "error": str(error)},
            )

    async def _view(self, session: Session) -> SessionView:
        return await views.session_view(
            self._store, session, self._now(), self._settings.presigned_url_ttl_s
        )


def _fingerprint(request: InitiateUpload) -> str:
    """What makes two initiate requests the same request, for Idempotency-Key replays."""
    material = request.model_dump_json(exclude={"idempotency_key", "batch_reference"})
    return hashlib.sha256(material.encode()).hexdigest()
