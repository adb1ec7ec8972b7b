"""Initiation's contract suites: the session repository and the session storage."""

import dataclasses
import uuid
from datetime import datetime, timedelta

from intake_contracts.commands import (
    InitiateUpload,
)
from intake_contracts.envelope import Principal
from intake_contracts.sessions import (
    UploadStatus,
    UploadType,
)
from intake_initiation import domain
from intake_initiation.domain import Session
from intake_initiation.ports import SessionRepository, SessionStorage
from tests.support.contracts.common import LIVE, NOW


def new_session(
    *,
    tenant_id: str | None = None,
    size: int = 5,
    key: str | None = None,
    bucket: str = "intake-contract",
    now: datetime = NOW,
) -> Session:
    tenant = tenant_id or f"t-{uuid.uuid4().hex[:8]}"
    request = InitiateUpload(
        file_name="a.txt", file_size=size, mime_type="text/plain", brand_id="b", idempotency_key=key
    )
    principal = Principal(user_id="u", tenant_id=tenant, brand_ids=("b",))
    placement = domain.Placement(bucket=bucket, ttl_s=3600, default_chunk_size=5 * 1024 * 1024)
    return domain.draft(request, principal, uuid.uuid4(), now, placement)


class SessionRepositoryContract:
    """What the use cases rely on from any SessionRepository."""

    async def test_a_session_is_found_only_in_its_own_tenant(
        self, sessions: SessionRepository
    ) -> None:
        stored = await sessions.insert(new_session())
        assert stored is not None
        assert stored.status == UploadStatus.INITIATING
        assert (stored.created_at, stored.last_activity_at) == (NOW, NOW)
        assert await sessions.get(stored.id, stored.tenant_id) == stored
        assert await sessions.get(stored.id, "another-tenant") is None

    async def test_a_session_is_stored_in_its_status_with_its_upload_id(
        self, sessions: SessionRepository
    ) -> None:
        opened = domain.opened(new_session(), "upload-1")
        stored = await sessions.insert(opened)
        assert stored == opened
        assert await sessions.get(opened.id, opened.tenant_id) == opened

    async def test_an_idempotency_key_is_taken_once_per_tenant(
        self, sessions: SessionRepository
    ) -> None:
        first = await sessions.insert(new_session(key="k"))
        assert first is not None
        assert await sessions.insert(new_session(tenant_id=first.tenant_id, key="k")) is None
        assert await sessions.by_idempotency_key(first.tenant_id, "k") == first
        assert await sessions.insert(new_session(key="k")) is not None  # another tenant

    async def test_a_transition_wins_only_from_an_allowed_status(
        self, sessions: SessionRepository
    ) -> None:
        stored = await sessions.insert(new_session())
        assert stored is not None
        uploading = await sessions.transition(
            stored, UploadStatus.UPLOADING, [UploadStatus.INITIATING], NOW, multipart_upload_id="m"
        )
        assert uploading is not None
        assert (uploading.status, uploading.multipart_upload_id) == (UploadStatus.UPLOADING, "m")
        again = await sessions.transition(
            stored, UploadStatus.UPLOADING, [UploadStatus.INITIATING], NOW
        )
        assert again is None
        cancelled = await sessions.transition(stored, UploadStatus.CANCELLED, LIVE, NOW)
        assert cancelled is not None
        assert cancelled.multipart_upload_id == "m"  # kept: changes only add

    async def test_idle_and_expiry_conditions_are_checked_inside_the_change(
        self, sessions: SessionRepository
    ) -> None:
        stored = await sessions.insert(new_session())
        assert stored is not None
        failed = UploadStatus.FAILED
        assert await sessions.transition(stored, failed, LIVE, NOW, idle_before=NOW) is None
        assert await sessions.transition(stored, failed, LIVE, NOW, expired_at=NOW) is None
        expired = await sessions.transition(
            stored, failed, LIVE, NOW, failure_reason="expired", expired_at=stored.expires_at
        )
        assert expired is not None
        assert expired.failure_reason == "expired"

    async def test_touch_moves_activity_to_the_given_instant_of_live_sessions_only(
        self, sessions: SessionRepository
    ) -> None:
        stored = await sessions.insert(new_session())
        assert stored is not None
        later = NOW + timedelta(minutes=5)
        touched = await sessions.touch(stored.id, stored.tenant_id, later)
        assert touched is not None
        assert touched.last_activity_at == later
        assert await sessions.touch(stored.id, "another-tenant", later) is None
        await sessions.transition(stored, UploadStatus.CANCELLED, LIVE, later)
        assert await sessions.touch(stored.id, stored.tenant_id, later) is None


class SessionStorageContract:
    """What the use cases rely on from any SessionStorage. `bucket` is the suite's own: tests/unit/conftest.py's on fakes, the stack's on S3."""

    async def test_a_direct_session_has_a_bucket_and_no_upload(
        self, storage: SessionStorage, bucket: str
    ) -> None:
        session = new_session(bucket=bucket)
        assert session.upload_type == UploadType.DIRECT
        assert await storage.open(session) is None
        assert await storage.uploaded_parts(session) == []
        url = await storage.presign_put(session, expires_s=60)
        assert session.temp_key in url

    async def test_a_multipart_upload_starts_empty_and_is_removed_with_its_residue(
        self, storage: SessionStorage, bucket: str
    ) -> None:
        draft = new_session(size=20 * 1024 * 1024, bucket=bucket)
        upload_id = await storage.open(draft)
        assert upload_id
        session = dataclasses.replace(draft, multipart_upload_id=upload_id)
        assert await storage.uploaded_parts(session) == []
        url = await storage.presign_part(session, 1, content_length=5, expires_s=60)
        assert "partNumber=1" in url
        await storage.remove_residue(session)
