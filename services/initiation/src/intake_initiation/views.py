"""How a session is shown to callers: the API's session view, resume view and shared record."""

from datetime import datetime

from intake_contracts.events import UploadLifecycleEvent
from intake_contracts.sessions import (
    DirectUpload,
    MultipartInfo,
    SessionRecord,
    SessionView,
    UploadStatus,
    UploadType,
)
from intake_initiation import domain
from intake_initiation.repo import Session
from intake_runtime.storage.s3 import ObjectStore


async def direct_upload(
    store: ObjectStore, session: Session, now: datetime, url_ttl_s: int
) -> DirectUpload | None:
    """A fresh presigned PUT while the direct session can still take its bytes."""
    if session.upload_type != UploadType.DIRECT or not domain.can_resume(
        session.status, session.expires_at, now
    ):
        return None
    expires_at = domain.url_expiry(now, url_ttl_s, session.expires_at)
    url = await store.presign_put(
        session.bucket,
        session.temp_key,
        content_type=session.mime_type,
        content_length=session.size_bytes,
        expires_s=max(1, int((expires_at - now).total_seconds())),
    )
    headers = {"Content-Type": session.mime_type, "Content-Length": str(session.size_bytes)}
    return DirectUpload(url=url, headers=headers, expires_at=expires_at)


def multipart_info(session: Session) -> MultipartInfo | None:
    if session.upload_type != UploadType.MULTIPART or session.multipart_upload_id is None:
        return None
    return MultipartInfo(
        upload_id=session.multipart_upload_id,
        chunk_size=session.chunk_size or 0,
        part_count=session.part_count or 0,
    )


async def session_view(
    store: ObjectStore, session: Session, now: datetime, url_ttl_s: int
) -> SessionView:
    return SessionView(
        upload_session_id=session.id,
        status=session.status,
        upload_type=session.upload_type,
        file_name=session.file_name,
        file_size=session.size_bytes,
        mime_type=session.mime_type,
        brand_id=session.brand_id,
        client_reference=session.client_reference,
        batch_reference=session.batch_reference,
        expires_at=session.expires_at,
        created_at=session.created_at,
        direct=await direct_upload(store, session, now, url_ttl_s),
        multipart=multipart_info(session),
        asset_id=session.asset_id,
    )


def record(session: Session) -> SessionRecord:
    return SessionRecord(
        upload_session_id=session.id,
        tenant_id=session.tenant_id,
        brand_id=session.brand_id,
        user_id=session.user_id,
        status=session.status,
        upload_type=session.upload_type,
        file_name=session.file_name,
        mime_type=session.mime_type,
        size_bytes=session.size_bytes,
        chunk_size=session.chunk_size,
        part_count=session.part_count,
        bucket=session.bucket,
        temp_key=session.temp_key,
        multipart_upload_id=session.multipart_upload_id,
        checksum_sha256=session.checksum_sha256,
        expires_at=session.expires_at,
        last_activity_at=session.last_activity_at,
        created_at=session.created_at,
        asset_id=session.asset_id,
        failure_reason=session.failure_reason,
    )


def lifecycle_event(session: Session, previous: UploadStatus | None) -> UploadLifecycleEvent:
    return UploadLifecycleEvent(
        upload_session_id=session.id,
        tenant_id=session.tenant_id,
        brand_id=session.brand_id,
        user_id=session.user_id,
        status=session.status,
        previous_status=previous,
        upload_type=session.upload_type,
        file_name=session.file_name,
        size_bytes=session.size_bytes,
        bucket=session.bucket,
        temp_key=session.temp_key,
        multipart_upload_id=session.multipart_upload_id,
        expires_at=session.expires_at,
        asset_id=session.asset_id,
        reason=session.failure_reason,
    )
