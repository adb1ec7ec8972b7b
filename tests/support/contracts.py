"""One contract suite per port: the same tests hold the in-memory fake (tests/unit) and the
real adapter against the stack's Postgres and S3 (tests/integration) to the same behaviour.

A suite is a class; a test module subclasses it and provides the port as a fixture.
"""

import base64
import dataclasses
import hashlib
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
from pydantic import BaseModel

from intake_audit.domain import LoggedEvent
from intake_audit.ports import EventLog
from intake_cleanup.domain import IndexedSession, Job, RunStatus
from intake_cleanup.ports import (
    CleanupPeers,
    CleanupStorage,
    IndexDatabase,
    JobRuns,
    ReplyTopics,
    RetentionRepository,
    RunEvents,
)
from intake_cleanup.service import summary
from intake_completion.domain import Asset, TempObjectChangedError
from intake_completion.ports import CompletionStorage, SagaDatabase, SessionPeers
from intake_completion.saga import BACKGROUND, Step
from intake_contracts import keys
from intake_contracts.commands import (
    Commands,
    CommandType,
    InitiateUpload,
    JobRunView,
    SessionRef,
)
from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode, TransientError
from intake_contracts.events import (
    AssetCreated,
    EventType,
    ResidueRemoved,
    UploadLifecycleEvent,
)
from intake_contracts.integrity import ChecksumAlgorithm
from intake_contracts.sessions import (
    DirectUpload,
    SessionRecord,
    SessionView,
    UploadStatus,
    UploadType,
)
from intake_gateway.ports import CommandClient
from intake_initiation import domain
from intake_initiation.domain import Session
from intake_initiation.ports import SessionRepository, SessionStorage
from intake_runtime.messaging.requests import BrokerUnavailableError, ReplyTimeoutError
from intake_runtime.storage.s3 import UploadNotFoundError
from tests.support.fakes import JobRun
from tests.support.waiting import eventually

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIVE = [UploadStatus.INITIATING, UploadStatus.UPLOADING]


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
    """What the use cases rely on from any SessionStorage."""

    @pytest.fixture
    def bucket(self) -> str:
        return "intake-contract"

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


def logged(tenant_id: str, session_id: uuid.UUID, minute: int) -> LoggedEvent:
    return LoggedEvent(
        event_id=uuid.uuid4(),
        type="upload.initiated",
        tenant_id=tenant_id,
        upload_session_id=session_id,
        occurred_at=NOW + timedelta(minutes=minute),
        payload={"upload_session_id": str(session_id), "n": minute},
        topic="intake.uploads.events",
    )


class EventLogContract:
    """What audit's use cases rely on from any EventLog."""

    async def test_an_event_is_logged_once(self, events: EventLog) -> None:
        tenant, session_id = f"t-{uuid.uuid4().hex[:8]}", uuid.uuid4()
        first = logged(tenant, session_id, 0)
        assert await events.append_many([first, first]) == 1
        assert await events.append_many([first]) == 0
        assert await events.trail(tenant, session_id) == [first]

    async def test_a_trail_is_oldest_first_and_of_one_tenant(self, events: EventLog) -> None:
        tenant, session_id = f"t-{uuid.uuid4().hex[:8]}", uuid.uuid4()
        late, early = logged(tenant, session_id, 5), logged(tenant, session_id, 1)
        await events.append_many([late, early, logged("another-tenant", session_id, 2)])
        assert await events.trail(tenant, session_id) == [early, late]
        assert await events.trail(tenant, uuid.uuid4()) == []


# --- completion ------------------------------------------------------------------------------

Expire = Callable[[uuid.UUID], Awaitable[None]]
Put = Callable[[str, str, bytes], Awaitable[None]]
Exists = Callable[[str, str], Awaitable[bool]]
Read = Callable[[str, str], Awaitable[bytes]]


def new_asset(
    session_id: uuid.UUID | None = None,
    *,
    tenant_id: str | None = None,
    bucket: str = "intake-contract",
    size: int = 5,
) -> Asset:
    session = session_id or uuid.uuid4()
    return Asset(
        asset_id=keys.asset_id_for(session),
        upload_session_id=session,
        tenant_id=tenant_id or f"t-{uuid.uuid4().hex[:8]}",
        brand_id="b",
        user_id="u",
        title="a",
        file_name="a.txt",
        mime_type="text/plain",
        size_bytes=size,
        bucket=bucket,
        object_key=keys.temp_key(session),
        checksum_sha256=None,
        created_at=None,
    )


def new_record(
    data: bytes,
    *,
    bucket: str,
    checksum: str | None = None,
    algorithm: ChecksumAlgorithm | None = None,
) -> SessionRecord:
    """A direct upload's session as initiation shares it, sized for `data`; with `algorithm`
    (SHA256), declaring the digest of `data`."""
    session = uuid.uuid4()
    declared = base64.b64encode(hashlib.sha256(data).digest()).decode() if algorithm else None
    return SessionRecord(
        checksum_algorithm=algorithm,
        checksum=declared,
        upload_session_id=session,
        tenant_id=f"t-{uuid.uuid4().hex[:8]}",
        brand_id="b",
        user_id="u",
        status=UploadStatus.UPLOADING,
        upload_type=UploadType.DIRECT,
        file_name="a.txt",
        mime_type="text/plain",
        size_bytes=len(data),
        chunk_size=None,
        part_count=None,
        bucket=bucket,
        temp_key=keys.temp_key(session),
        multipart_upload_id=None,
        checksum_sha256=checksum,
        expires_at=NOW + timedelta(hours=1),
        last_activity_at=NOW,
        created_at=NOW,
        asset_id=None,
        failure_reason=None,
    )


class SagaDatabaseContract:
    """What the completion saga relies on from any SagaDatabase (repository and leases).

    `expire(session_id)` makes the session's lease lapse: the fake moves its clock, the real
    adapter moves the row's lease_until into the database's past.
    """

    async def _opened(self, database: SagaDatabase, tenant_id: str | None = None) -> Asset:
        asset = new_asset(tenant_id=tenant_id)
        await database.saga.open_attempt(asset.upload_session_id, asset.tenant_id, asset.asset_id)
        return asset

    async def test_an_attempt_is_opened_once_at_finalizing(self, database: SagaDatabase) -> None:
        asset = await self._opened(database)
        await database.saga.open_attempt(asset.upload_session_id, "another", uuid.uuid4())
        attempt = await database.saga.attempt(asset.upload_session_id)
        assert attempt is not None
        assert (attempt.tenant_id, attempt.asset_id) == (asset.tenant_id, asset.asset_id)
        assert (attempt.step, attempt.lease_owner, attempt.lease_until) == (
            Step.FINALIZING,
            None,
            None,
        )
        assert await database.saga.attempt(uuid.uuid4()) is None

    async def test_a_lease_is_held_by_one_owner_until_released_or_expired(
        self, database: SagaDatabase, expire: Expire
    ) -> None:
        asset = await self._opened(database)
        session_id, first, second = asset.upload_session_id, uuid.uuid4(), uuid.uuid4()
        claimed = await database.leases.claim(session_id, [Step.FINALIZING], first, 60)
        assert claimed is not None
        assert (claimed.lease_owner, claimed.lease_until is not None) == (first, True)
        assert await database.leases.claim(session_id, [Step.FINALIZING], second, 60) is None
        await database.leases.release(session_id, second, "not mine")  # changes nothing
        assert await database.leases.claim(session_id, [Step.FINALIZING], second, 60) is None
        await database.leases.release(session_id, first, "boom")
        retaken = await database.leases.claim(session_id, [Step.FINALIZING], second, 60)
        assert retaken is not None
        assert retaken.lease_owner == second
        await expire(session_id)
        taken_over = await database.leases.claim(session_id, [Step.FINALIZING], first, 60)
        assert taken_over is not None
        assert taken_over.lease_owner == first

    async def test_a_step_released_with_a_back_off_is_claimed_by_nobody_until_it_ends(
        self, database: SagaDatabase, expire: Expire
    ) -> None:
        asset = await self._opened(database)
        session_id, owner = asset.upload_session_id, uuid.uuid4()
        first = await database.leases.claim(session_id, [Step.FINALIZING], owner, 60)
        assert first is not None
        await database.leases.release(session_id, owner, "S3 down", retry_in_s=60)
        released = await database.saga.attempt(session_id)
        assert released is not None
        assert (released.lease_owner, released.lease_until is not None) == (None, True)
        assert await database.leases.claim(session_id, [Step.FINALIZING], uuid.uuid4(), 60) is None
        await expire(session_id)
        again = await database.leases.claim(session_id, [Step.FINALIZING], owner, 60)
        assert again is not None
        assert again.tries == first.tries + 1  # the back-off of the next failure doubles

    async def test_a_renewal_keeps_only_its_owners_lease_alive(
        self, database: SagaDatabase, expire: Expire
    ) -> None:
        asset = await self._opened(database)
        session_id, owner = asset.upload_session_id, uuid.uuid4()
        assert await database.leases.claim(session_id, [Step.FINALIZING], owner, 60)
        await expire(session_id)
        await database.leases.renew(session_id, uuid.uuid4(), 60)  # not the owner: still lapsed
        assert await database.leases.claim(session_id, [Step.FINALIZING], owner, 60)
        await expire(session_id)
        await database.leases.renew(session_id, owner, 60)
        assert await database.leases.claim(session_id, [Step.FINALIZING], uuid.uuid4(), 60) is None

    async def test_a_claim_takes_only_the_steps_asked_for(self, database: SagaDatabase) -> None:
        asset = await self._opened(database)
        background = [Step.PROMOTING, Step.RELEASING]
        assert (
            await database.leases.claim(asset.upload_session_id, background, uuid.uuid4(), 60)
            is None
        )

    async def test_a_step_advances_by_compare_and_set_of_step_and_owner(
        self, database: SagaDatabase
    ) -> None:
        asset = await self._opened(database)
        session_id, owner = asset.upload_session_id, uuid.uuid4()
        assert await database.leases.claim(session_id, [Step.FINALIZING], owner, 60)
        saga = database.saga
        assert not await saga.advance(session_id, Step.FINALIZING, uuid.uuid4(), release=True)
        assert not await saga.advance(session_id, Step.PROMOTING, owner, release=True)
        assert await saga.advance(session_id, Step.FINALIZING, owner, release=False)
        kept = await saga.attempt(session_id)
        assert kept is not None
        assert (kept.step, kept.lease_owner) == (Step.PROMOTING, owner)
        assert await saga.advance(session_id, Step.PROMOTING, owner, release=True)
        released = await saga.attempt(session_id)
        assert released is not None
        assert (released.step, released.lease_owner, released.lease_until) == (
            Step.RELEASING,
            None,
            None,
        )
        assert not await saga.advance(session_id, Step.PROMOTING, owner, release=True)

    async def test_due_lists_unheld_background_steps_only(self, database: SagaDatabase) -> None:
        finalizing = await self._opened(database)
        held, free = await self._opened(database), await self._opened(database)
        for asset in (held, free):
            owner = uuid.uuid4()
            sid = asset.upload_session_id
            assert await database.leases.claim(sid, [Step.FINALIZING], owner, 60)
            assert await database.saga.advance(sid, Step.FINALIZING, owner, release=asset is free)
        due = await database.saga.due(100_000)
        assert free.upload_session_id in due
        assert held.upload_session_id not in due
        assert finalizing.upload_session_id not in due

    async def test_the_tenant_cap_counts_other_live_finalizations(
        self, database: SagaDatabase, expire: Expire
    ) -> None:
        first = await self._opened(database)
        tenant = first.tenant_id
        second = await self._opened(database, tenant)
        await self._opened(database, tenant)  # never claimed: not running
        for asset in (first, second):
            claimed = await database.leases.claim(
                asset.upload_session_id, [Step.FINALIZING], uuid.uuid4(), 60
            )
            assert claimed is not None
        saga = database.saga
        assert await saga.running_in_tenant(tenant, uuid.uuid4()) == 2
        assert await saga.running_in_tenant(tenant, first.upload_session_id) == 1
        assert await saga.running_in_tenant("another-tenant", uuid.uuid4()) == 0
        await expire(second.upload_session_id)
        assert await saga.running_in_tenant(tenant, uuid.uuid4()) == 1

    async def test_open_and_claim_opens_once_claims_a_free_lease_and_counts_the_others(
        self, database: SagaDatabase, expire: Expire
    ) -> None:
        other = await self._opened(database)
        tenant = other.tenant_id
        assert await database.leases.claim(
            other.upload_session_id, [Step.FINALIZING], uuid.uuid4(), 60
        )
        asset = new_asset(tenant_id=tenant)
        session_id, owner = asset.upload_session_id, uuid.uuid4()
        async with database.transaction() as tx:
            await tx.saga.lock_tenant(tenant)
            claimed, running = await tx.saga.open_and_claim(
                session_id, tenant, asset.asset_id, owner, 60
            )
        assert claimed is not None
        assert (claimed.step, claimed.lease_owner, claimed.tenant_id) == (
            Step.FINALIZING,
            owner,
            tenant,
        )
        assert claimed.asset_id == asset.asset_id
        assert claimed.lease_until is not None
        assert running == 1  # the other session's live finalization, not this one
        held = await database.saga.open_and_claim(
            session_id, "another", uuid.uuid4(), uuid.uuid4(), 60
        )
        assert held == (None, 0)
        kept = await database.saga.attempt(session_id)
        assert kept is not None
        assert (kept.tenant_id, kept.asset_id, kept.lease_owner) == (tenant, asset.asset_id, owner)
        await expire(session_id)
        retaken, _ = await database.saga.open_and_claim(
            session_id, tenant, asset.asset_id, uuid.uuid4(), 60
        )
        assert retaken is not None
        assert retaken.lease_owner != owner

    async def test_an_asset_is_recorded_once_and_found_in_its_tenant(
        self, database: SagaDatabase
    ) -> None:
        asset = new_asset()
        async with database.transaction() as tx:
            await tx.saga.lock_tenant(asset.tenant_id)
            stored = await tx.saga.insert_asset(asset)
        assert stored is not None
        assert stored.created_at is not None
        assert stored.model_copy(update={"created_at": None}) == asset
        assert await database.saga.insert_asset(asset) is None
        session_id = asset.upload_session_id
        assert await database.saga.asset(session_id, asset.tenant_id) == stored
        assert await database.saga.asset(session_id, "another-tenant") is None
        assert await database.saga.asset_of(session_id) == stored

    async def test_the_asset_and_foreign_saga_sees_the_tenants_asset_and_another_tenants_saga(
        self, database: SagaDatabase
    ) -> None:
        asset = new_asset()
        session_id, tenant = asset.upload_session_id, asset.tenant_id
        assert await database.saga.asset_and_foreign_saga(session_id, tenant) == (None, False)
        await database.saga.open_attempt(session_id, tenant, asset.asset_id)
        assert await database.saga.asset_and_foreign_saga(session_id, tenant) == (None, False)
        assert await database.saga.asset_and_foreign_saga(session_id, "another-tenant") == (
            None,
            True,
        )
        stored = await database.saga.insert_asset(asset)
        assert await database.saga.asset_and_foreign_saga(session_id, tenant) == (stored, False)
        assert await database.saga.asset_and_foreign_saga(session_id, "another-tenant") == (
            None,
            True,
        )

    async def test_an_asset_is_promoted_once(self, database: SagaDatabase) -> None:
        asset = new_asset()
        assert await database.saga.insert_asset(asset) is not None
        target = keys.asset_key(asset.tenant_id, asset.asset_id)
        promoted = await database.saga.mark_promoted(asset.upload_session_id, target)
        assert promoted is not None
        assert (promoted.object_key, promoted.promoted_at is not None) == (target, True)
        assert await database.saga.mark_promoted(asset.upload_session_id, "elsewhere") is None
        assert await database.saga.asset_of(asset.upload_session_id) == promoted

    async def test_an_asset_is_recorded_with_the_saga_moving_on_only_by_its_lease_holder(
        self, database: SagaDatabase
    ) -> None:
        asset = await self._opened(database)
        session_id, owner = asset.upload_session_id, uuid.uuid4()
        event = AssetCreated(**asset.model_dump(include=set(AssetCreated.model_fields)))

        async def record(by: uuid.UUID) -> Asset | None:
            return await database.record_asset(
                asset, event, by, lease_s=60, correlation_id="c", principal=None
            )

        assert await record(owner) is None  # nobody holds the step
        assert await database.leases.claim(session_id, [Step.FINALIZING], owner, 60)
        assert await record(uuid.uuid4()) is None  # another owner's lease
        assert await database.saga.asset_of(session_id) is None
        stored = await record(owner)
        assert stored is not None
        assert stored.created_at is not None
        assert stored.model_copy(update={"created_at": None}) == asset
        attempt = await database.saga.attempt(session_id)
        assert attempt is not None
        # The recorder keeps the lease of promoting (handed to the promoter): nobody claims it.
        assert (attempt.step, attempt.lease_owner) == (Step.PROMOTING, owner)
        assert attempt.lease_until is not None
        assert await database.leases.claim(session_id, BACKGROUND, uuid.uuid4(), 60) is None
        assert session_id not in await database.saga.due(100)
        assert await record(owner) is None  # the step has moved on: nothing twice
        assert await database.saga.asset_of(session_id) == stored

    async def test_a_transaction_that_raises_leaves_nothing(self, database: SagaDatabase) -> None:
        asset = new_asset()

        async def work_then_fail() -> None:
            async with database.transaction() as tx:
                await tx.saga.open_attempt(asset.upload_session_id, asset.tenant_id, asset.asset_id)
                await tx.saga.insert_asset(asset)
                await tx.outbox.add(
                    EventType.ASSET_CREATED,
                    AssetCreated(**asset.model_dump(include=set(AssetCreated.model_fields))),
                    key=str(asset.upload_session_id),
                    tenant_id=asset.tenant_id,
                    correlation_id="c",
                )
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await work_then_fail()
        assert await database.saga.attempt(asset.upload_session_id) is None
        assert await database.saga.asset_of(asset.upload_session_id) is None


class CompletionStorageContract:
    """What the completion saga relies on from any CompletionStorage. `put` writes an object
    as a client's upload would; `exists` looks."""

    @pytest.fixture
    def bucket(self) -> str:
        return "intake-contract"

    async def test_a_direct_upload_of_the_declared_size_is_final(
        self, storage: CompletionStorage, put: Put, bucket: str
    ) -> None:
        data = b"hello"
        session = new_record(data, bucket=bucket, checksum=hashlib.sha256(data).hexdigest())
        await put(bucket, session.temp_key, data)
        await storage.finalize(session, None)
        await storage.verify_checksum(session, hashlib.sha256(data).hexdigest())
        with pytest.raises(DomainError) as refused:
            await storage.verify_checksum(session, hashlib.sha256(b"other").hexdigest())
        assert refused.value.code == ErrorCode.CHECKSUM_MISMATCH

    async def test_a_missing_or_mis_sized_object_is_refused(
        self, storage: CompletionStorage, put: Put, bucket: str
    ) -> None:
        session = new_record(b"hello", bucket=bucket)
        with pytest.raises(DomainError) as missing:
            await storage.finalize(session, None)
        assert missing.value.code == ErrorCode.UPLOAD_INCOMPLETE
        await put(bucket, session.temp_key, b"hell")
        with pytest.raises(DomainError) as short:
            await storage.finalize(session, None)
        assert short.value.code == ErrorCode.SIZE_MISMATCH

    async def test_a_copy_to_the_permanent_key_is_safe_to_repeat(
        self, storage: CompletionStorage, put: Put, exists: Exists, bucket: str
    ) -> None:
        asset = new_asset(bucket=bucket)
        target = keys.asset_key(asset.tenant_id, asset.asset_id)
        with pytest.raises(DomainError) as missing:
            await storage.copy_to_permanent(asset, target)
        assert missing.value.code == ErrorCode.UPLOAD_INCOMPLETE
        await put(bucket, asset.object_key, b"hello")
        await storage.copy_to_permanent(asset, target)
        assert await exists(bucket, target)
        await storage.delete(bucket, asset.object_key)
        assert not await exists(bucket, asset.object_key)
        await storage.delete(bucket, asset.object_key)  # gone already: no error
        await storage.copy_to_permanent(asset, target)  # landed: the temp one is not needed
        await storage.delete(bucket, target)

    @pytest.fixture
    def size(self) -> int:
        """Bytes of the objects promoted below (a class may exercise the multipart copy)."""
        return 5

    async def _completed(
        self, storage: CompletionStorage, put: Put, bucket: str, data: bytes
    ) -> tuple[Asset, str]:
        """An Asset of `data` as complete records it (its checked ETag), and its target."""
        session = new_record(data, bucket=bucket, algorithm=ChecksumAlgorithm.SHA256)
        await put(bucket, session.temp_key, data)
        checked = await storage.finalize(session, None)
        assert checked.etag == hashlib.md5(data, usedforsecurity=False).hexdigest()
        assert (checked.checksum_algorithm, checked.checksum) == (
            ChecksumAlgorithm.SHA256,
            session.checksum,
        )
        asset = new_asset(session.upload_session_id, bucket=bucket, size=len(data))
        asset = asset.model_copy(update={"etag": checked.etag, "tenant_id": session.tenant_id})
        return asset, keys.asset_key(asset.tenant_id, asset.asset_id)

    async def test_a_temp_object_changed_after_complete_is_never_promoted(
        self, storage: CompletionStorage, put: Put, exists: Exists, bucket: str, size: int
    ) -> None:
        data = os.urandom(size)
        asset, target = await self._completed(storage, put, bucket, data)
        await put(bucket, asset.object_key, os.urandom(size))  # same length, other bytes
        with pytest.raises(TempObjectChangedError) as changed:
            await storage.copy_to_permanent(asset, target)
        assert changed.value.found_etag not in {None, asset.etag}
        assert not await exists(bucket, target)
        await storage.delete(bucket, asset.object_key)

    async def test_a_second_promotion_never_replaces_the_permanent_object(
        self, storage: CompletionStorage, put: Put, read: Read, bucket: str, size: int
    ) -> None:
        data = os.urandom(size)
        asset, target = await self._completed(storage, put, bucket, data)
        await storage.copy_to_permanent(asset, target)
        await storage.copy_to_permanent(asset, target)  # a retry after a crash: done already
        await put(bucket, asset.object_key, os.urandom(size))
        await storage.copy_to_permanent(asset, target)
        assert await read(bucket, target) == data
        await storage.delete(bucket, asset.object_key)
        await storage.delete(bucket, target)


# --- cleanup ---------------------------------------------------------------------------------

OpenUpload = Callable[[str, str], Awaitable[str]]


def lifecycle(
    session_id: uuid.UUID,
    tenant_id: str,
    status: UploadStatus,
    *,
    expires_at: datetime = NOW + timedelta(hours=1),
    asset_id: uuid.UUID | None = None,
) -> UploadLifecycleEvent:
    return UploadLifecycleEvent(
        upload_session_id=session_id,
        tenant_id=tenant_id,
        brand_id="b",
        user_id="u",
        status=status,
        previous_status=None,
        upload_type=UploadType.DIRECT,
        file_name="a.txt",
        size_bytes=5,
        bucket="intake-contract",
        temp_key=keys.temp_key(session_id),
        multipart_upload_id=None,
        expires_at=expires_at,
        asset_id=asset_id,
    )


class IndexDatabaseContract:
    """What the cleanup jobs rely on from any IndexDatabase. Each test's sessions are of a
    tenant of its own, and every read is scoped to it: the real index holds other rows."""

    @pytest.fixture
    def tenant(self) -> str:
        return f"t-{uuid.uuid4().hex[:8]}"

    async def _index(
        self, database: IndexDatabase, *events: tuple[UploadLifecycleEvent, datetime]
    ) -> None:
        async with database.transaction() as index:
            await index.upsert_sessions(list(events))

    async def test_a_session_moves_only_forward(self, database: IndexDatabase, tenant: str) -> None:
        sid = uuid.uuid4()
        at = NOW - timedelta(hours=2)
        await self._index(database, (lifecycle(sid, tenant, UploadStatus.UPLOADING), at))
        # A late INITIATING never takes it back; FAILED wins over an older UPLOADING.
        await self._index(
            database,
            (lifecycle(sid, tenant, UploadStatus.INITIATING), at + timedelta(minutes=5)),
            (lifecycle(sid, tenant, UploadStatus.FAILED), at - timedelta(minutes=5)),
        )
        found = (await database.index.sessions_by_ids([sid]))[sid]
        assert (found.status, found.tenant_id) == (UploadStatus.FAILED, tenant)
        assert found.last_event_at == at
        await database.index.advance_statuses([(sid, UploadStatus.UPLOADING)])
        found = (await database.index.sessions_by_ids([sid]))[sid]
        assert found.status == UploadStatus.FAILED

    async def test_an_event_is_claimed_once(self, database: IndexDatabase) -> None:
        first, second = uuid.uuid4(), uuid.uuid4()
        async with database.transaction() as index:
            assert await index.claim_events([first]) == {first}
        async with database.transaction() as index:
            assert await index.claim_events([first, second]) == {second}

    async def test_idle_sessions_page_by_activity_in_the_tenant(
        self, database: IndexDatabase, tenant: str
    ) -> None:
        ids = [uuid.uuid4() for _ in range(3)]
        events = [
            (lifecycle(sid, tenant, UploadStatus.UPLOADING), NOW - timedelta(hours=5 - n))
            for n, sid in enumerate(ids)
        ]
        fresh = uuid.uuid4()
        await self._index(
            database, *events, (lifecycle(fresh, tenant, UploadStatus.UPLOADING), NOW)
        )
        index = database.index
        cutoff = NOW - timedelta(hours=1)
        first = await index.idle_sessions(cutoff, 2, tenant)
        assert [s.id for s in first] == ids[:2]
        after = (first[-1].active_since, first[-1].id)
        assert [s.id for s in await index.idle_sessions(cutoff, 2, tenant, after)] == ids[2:]
        assert await index.idle_sessions(cutoff, 2, "another-tenant") == []
        # Activity seen after the cutoff: the session waits for the next run.
        await index.raise_active_since_many([ids[0]], NOW)
        await index.raise_active_since_many([ids[1]], NOW - timedelta(days=9))  # never lowers
        assert [s.id for s in await index.idle_sessions(cutoff, 10, tenant)] == ids[1:]

    async def test_expired_sessions_are_live_ones_past_expiry(
        self, database: IndexDatabase, tenant: str
    ) -> None:
        late, failed, fine = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        past = NOW - timedelta(minutes=1)
        await self._index(
            database,
            (lifecycle(late, tenant, UploadStatus.UPLOADING, expires_at=past), past),
            (lifecycle(failed, tenant, UploadStatus.FAILED, expires_at=past), past),
            (lifecycle(fine, tenant, UploadStatus.UPLOADING), past),
        )
        found = await database.index.expired_sessions(NOW, 10, tenant)
        assert [s.id for s in found] == [late]

    async def test_reconcile_sees_completed_sessions_until_their_asset_is_promoted(
        self, database: IndexDatabase, tenant: str
    ) -> None:
        sid, asset = uuid.uuid4(), uuid.uuid4()
        past = NOW - timedelta(hours=1)
        await self._index(database, (lifecycle(sid, tenant, UploadStatus.COMPLETED), past))
        index = database.index
        assert [s.id for s in await index.unreconciled_sessions(NOW, 10, tenant)] == [sid]
        await index.record_assets([(sid, asset, tenant, False)])
        [pending] = await index.unreconciled_sessions(NOW, 10, tenant)
        assert (pending.asset_created, pending.asset_promoted) == (True, False)
        await index.record_assets([(sid, asset, tenant, True)])
        await index.record_assets([(sid, asset, tenant, False)])  # promoted stays promoted
        assert await index.unreconciled_sessions(NOW, 10, tenant) == []
        assert (await index.sessions_by_ids([sid]))[sid].asset_promoted

    async def test_a_transaction_that_raises_leaves_nothing(
        self, database: IndexDatabase, tenant: str
    ) -> None:
        sid, message = uuid.uuid4(), uuid.uuid4()

        async def apply_then_fail() -> None:
            async with database.transaction() as index:
                await index.claim_events([message])
                await index.upsert_sessions([(lifecycle(sid, tenant, UploadStatus.UPLOADING), NOW)])
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await apply_then_fail()
        assert await database.index.sessions_by_ids([sid]) == {}
        async with database.transaction() as index:
            assert await index.claim_events([message]) == {message}


class RetentionRepositoryContract:
    """What the retention jobs rely on from any RetentionRepository."""

    async def test_a_topic_keeps_the_instant_it_was_first_seen_unclaimed(
        self, retention: RetentionRepository
    ) -> None:
        one, two = f"t-{uuid.uuid4().hex}", f"t-{uuid.uuid4().hex}"
        first = await retention.unclaimed_since([one], NOW)
        assert first == {one: NOW}
        later = NOW + timedelta(minutes=5)
        assert await retention.unclaimed_since([one, two], later) == {one: NOW, two: later}
        # Claimed again meanwhile: forgotten, so a later death starts a new grace period.
        assert await retention.unclaimed_since([two], later) == {two: later}
        assert await retention.unclaimed_since([one, two], later + timedelta(1)) == {
            one: later + timedelta(1),
            two: later,
        }
        await retention.forget([one])
        assert (await retention.unclaimed_since([one], later + timedelta(2)))[one] == later + (
            timedelta(2)
        )
        await retention.unclaimed_since([], NOW)  # leave nothing for the next test

    async def test_nothing_older_than_the_beginning_is_pruned(
        self, retention: RetentionRepository
    ) -> None:
        epoch = datetime(2000, 1, 1, tzinfo=UTC)
        assert await retention.prune_index(epoch, 10) == 0
        assert await retention.prune_seen_events(epoch, 10) == 0
        assert await retention.prune_job_runs(epoch, 10) == 0


class CleanupStorageContract:
    """What the cleanup jobs rely on from any CleanupStorage (the typed S3 adapter's surface).
    `put` writes an object, `open_upload` starts a multipart upload and returns its id."""

    @pytest.fixture
    def bucket(self) -> str:
        return "intake-contract"

    async def test_objects_are_listed_under_their_prefix_and_deleted_once(
        self, storage: CleanupStorage, put: Put, bucket: str
    ) -> None:
        prefix = f"temp/uploads/contract-{uuid.uuid4().hex}/"
        await put(bucket, f"{prefix}a", b"hello")
        await put(bucket, f"{prefix}b", b"hi")
        listed = [o async for page in storage.iter_objects(bucket, prefix) for o in page]
        assert [(o.key, o.size) for o in listed] == [(f"{prefix}a", 5), (f"{prefix}b", 2)]
        assert all(o.last_modified.tzinfo is not None for o in listed)
        await storage.delete(bucket, f"{prefix}a")
        await storage.delete(bucket, f"{prefix}a")  # gone already: no error
        listed = [o async for page in storage.iter_objects(bucket, prefix) for o in page]
        assert [o.key for o in listed] == [f"{prefix}b"]
        await storage.delete(bucket, f"{prefix}b")
        assert bucket in await storage.list_buckets()

    async def test_many_keys_are_deleted_at_once_and_missing_ones_are_no_error(
        self, storage: CleanupStorage, put: Put, bucket: str
    ) -> None:
        prefix = f"temp/uploads/contract-{uuid.uuid4().hex}/"
        keys = [f"{prefix}{n:04}" for n in range(1003)]  # more than one request's 1,000
        for key in (keys[0], keys[999], keys[1002]):
            await put(bucket, key, b"residue")
        await put(bucket, f"{prefix}kept", b"kept")
        assert await storage.delete_many(bucket, keys) == []
        listed = [o async for page in storage.iter_objects(bucket, prefix) for o in page]
        assert [o.key for o in listed] == [f"{prefix}kept"]
        await storage.delete(bucket, f"{prefix}kept")

    async def test_an_aborted_upload_is_gone_with_its_parts(
        self, storage: CleanupStorage, open_upload: OpenUpload, bucket: str
    ) -> None:
        key = f"temp/uploads/contract-{uuid.uuid4().hex}/original"
        upload_id = await open_upload(bucket, key)
        listed = [u async for page in storage.iter_multipart_uploads(bucket, key) for u in page]
        assert [(u.key, u.upload_id) for u in listed] == [(key, upload_id)]
        assert await storage.abort_multipart(bucket, key, upload_id)
        await storage.abort_multipart(bucket, key, upload_id)  # again: no error (SeaweedFS
        # answers True, AWS False: the jobs rely on neither)
        with pytest.raises(UploadNotFoundError):
            await storage.list_parts(bucket, key, upload_id)
        assert [u async for page in storage.iter_multipart_uploads(bucket, key) for u in page] == []


# The JobRuns' record of one run, and the event types written with it (oldest first).
StoredRun = Callable[[uuid.UUID], Awaitable[JobRun | None]]
RunEventTypes = Callable[[uuid.UUID], Awaitable[list[EventType]]]


def finished_run(run_id: uuid.UUID, job: Job, status: RunStatus) -> JobRunView:
    return JobRunView(
        run_id=run_id,
        job=job,
        status=status,
        started_at=NOW,
        finished_at=NOW + timedelta(seconds=3),
        stats={"failed": 2},
        errors=["complete s1: service_timeout"],
    )


def residue(job: Job) -> ResidueRemoved:
    key = f"temp/uploads/{uuid.uuid4()}/original"
    return ResidueRemoved(
        job=job,
        action="delete",
        bucket="intake-contract",
        key=key,
        upload_id=None,
        upload_session_id=None,
        tenant_id=None,
        reason="orphaned",
    )


SYSTEM = Principal(user_id="system:cleanup", tenant_id="system", service="cleanup")


class JobRunsContract:
    """What CleanupService relies on from any JobRuns: one holder of a job's lock at a time,
    and a record of every run whose outcome commits with its events or not at all. `stored`
    reads a run's record back, `emitted` the types of the events written with it."""

    async def test_a_job_is_held_by_one_run_at_a_time(self, runs: JobRuns) -> None:
        async with runs.lock(Job.RECONCILE) as first:
            assert first
            async with runs.lock(Job.RECONCILE) as second:
                assert not second
            async with runs.lock(Job.EXPIRE_SESSIONS) as other_job:
                assert other_job
        async with runs.lock(Job.RECONCILE) as again:  # released with the run
            assert again

    async def test_a_run_is_recorded_from_its_start_to_its_outcome_with_its_events(
        self, runs: JobRuns, stored: StoredRun, emitted: RunEventTypes
    ) -> None:
        run_id = uuid.uuid4()
        await runs.start(run_id, Job.ORPHANED_TEMP_OBJECTS, NOW, RunStatus.RUNNING)
        started = await stored(run_id)
        assert started is not None
        assert (started.status, started.started_at, started.finished_at) == (
            RunStatus.RUNNING,
            NOW,
            None,
        )
        run = finished_run(run_id, Job.ORPHANED_TEMP_OBJECTS, RunStatus.FAILED)
        events: RunEvents = [
            (EventType.CLEANUP_RESIDUE_REMOVED, residue(Job.ORPHANED_TEMP_OBJECTS), "k", None),
            (EventType.CLEANUP_RUN_COMPLETED, summary(run), str(run_id), None),
        ]
        await runs.finish(run, events, SYSTEM)
        finished = await stored(run_id)
        assert finished is not None
        assert (finished.status, finished.finished_at, finished.stats, finished.errors) == (
            RunStatus.FAILED,
            run.finished_at,
            run.stats,
            run.errors,
        )
        assert await emitted(run_id) == [
            EventType.CLEANUP_RESIDUE_REMOVED,
            EventType.CLEANUP_RUN_COMPLETED,
        ]

    async def test_a_skipped_run_is_finished_when_it_starts(
        self, runs: JobRuns, stored: StoredRun, emitted: RunEventTypes
    ) -> None:
        run_id = uuid.uuid4()
        await runs.start(run_id, Job.RECONCILE, NOW, RunStatus.SKIPPED)
        skipped = await stored(run_id)
        assert skipped is not None
        assert (skipped.job, skipped.status, skipped.finished_at) == (
            Job.RECONCILE,
            RunStatus.SKIPPED,
            NOW,
        )
        assert await emitted(run_id) == []
        assert await stored(uuid.uuid4()) is None

    async def test_an_outcome_whose_events_are_refused_is_not_recorded(
        self, runs: JobRuns, stored: StoredRun, emitted: RunEventTypes
    ) -> None:
        run_id = uuid.uuid4()
        await runs.start(run_id, Job.RECONCILE, NOW, RunStatus.RUNNING)
        run = finished_run(run_id, Job.RECONCILE, RunStatus.OK)
        wrong: RunEvents = [
            (EventType.CLEANUP_RUN_COMPLETED, summary(run), str(run_id), None),
            # An event of another type's model: the whole outcome is refused.
            (EventType.CLEANUP_RUN_COMPLETED, residue(Job.RECONCILE), "k", None),
        ]
        with pytest.raises(TypeError):
            await runs.finish(run, wrong, SYSTEM)
        unfinished = await stored(run_id)
        assert unfinished is not None
        assert (unfinished.status, unfinished.finished_at) == (RunStatus.RUNNING, None)
        assert await emitted(run_id) == []


# --- request/reply peers ---------------------------------------------------------------------
#
# Each suite runs against the fake (tests/unit) and against the real adapter over a real
# RequestReplyClient with the real services answering (tests/e2e/test_peer_ports.py). Beside
# the port, a test module provides how to make the world the test needs: `seed` sessions in a
# state, and the port as it is when no reply comes in time (`stalled`) or the broker does not
# take the command (`unreachable`).


class Seeded(NamedTuple):
    """A session of a tenant of its own, and the user who initiated it (its brand)."""

    session_id: uuid.UUID
    owner: Principal
    expires_at: datetime


# "uploading", "cancelled" or "expired" (UPLOADING, past its expiry) → a session in that state.
Seed = Callable[[str], Awaitable[Seeded]]


def stranger(owner: Principal) -> Principal:
    """A user of another tenant with the same brand."""
    return owner.model_copy(update={"tenant_id": f"t-{uuid.uuid4().hex[:8]}"})


def outsider(owner: Principal) -> Principal:
    """A user of the owner's tenant whose token lacks the session's brand."""
    return owner.model_copy(update={"brand_ids": ("another-brand",)})


def vouched(owner: Principal, service: str = "completion") -> Principal:
    """The owner's identity with an Intake service vouching for the command."""
    return owner.model_copy(update={"service": service})


async def refusal(call: Awaitable[object]) -> tuple[ErrorCode, str]:
    with pytest.raises(DomainError) as refused:
        await call
    return refused.value.code, refused.value.detail


MISSING = (ErrorCode.UPLOAD_SESSION_NOT_FOUND, "upload session not found")


class SessionPeersContract:
    """What the completion saga relies on from any SessionPeers (initiation)."""

    async def test_an_uploading_session_may_be_completed(
        self, peers: SessionPeers, seed: Seed
    ) -> None:
        seeded = await seed("uploading")
        record = await peers.begin_completion(seeded.session_id, seeded.owner)
        assert (record.upload_session_id, record.tenant_id, record.status, record.asset_id) == (
            seeded.session_id,
            seeded.owner.tenant_id,
            UploadStatus.UPLOADING,
            None,
        )

    async def test_a_missing_session_and_another_tenants_are_refused_alike(
        self, peers: SessionPeers, seed: Seed
    ) -> None:
        seeded = await seed("uploading")
        other = stranger(seeded.owner)
        asset_id = keys.asset_id_for(seeded.session_id)
        assert [
            await refusal(peers.begin_completion(uuid.uuid4(), seeded.owner)),
            await refusal(peers.begin_completion(seeded.session_id, other)),
            await refusal(peers.mark_completed(uuid.uuid4(), asset_id, vouched(seeded.owner))),
            await refusal(peers.mark_completed(seeded.session_id, asset_id, vouched(other))),
        ] == [MISSING] * 4
        code, _ = await refusal(peers.begin_completion(seeded.session_id, outsider(seeded.owner)))
        assert code == ErrorCode.BRAND_NOT_ALLOWED

    async def test_a_session_that_is_no_longer_live_refuses_with_its_own_code(
        self, peers: SessionPeers, seed: Seed
    ) -> None:
        cancelled, expired = await seed("cancelled"), await seed("expired")
        asset_id = keys.asset_id_for(cancelled.session_id)
        assert [
            (await refusal(peers.begin_completion(cancelled.session_id, cancelled.owner)))[0],
            (
                await refusal(
                    peers.mark_completed(cancelled.session_id, asset_id, vouched(cancelled.owner))
                )
            )[0],
            (await refusal(peers.begin_completion(expired.session_id, expired.owner)))[0],
        ] == [
            ErrorCode.UPLOAD_CANCELLED,
            ErrorCode.UPLOAD_CANCELLED,
            ErrorCode.UPLOAD_SESSION_EXPIRED,
        ]

    async def test_only_a_service_completes_a_session_and_a_retry_gets_the_same_answer(
        self, peers: SessionPeers, seed: Seed
    ) -> None:
        seeded = await seed("uploading")
        asset_id = keys.asset_id_for(seeded.session_id)
        code, _ = await refusal(peers.mark_completed(seeded.session_id, asset_id, seeded.owner))
        assert code == ErrorCode.PERMISSION_DENIED
        service = vouched(seeded.owner)
        completed = await peers.mark_completed(seeded.session_id, asset_id, service)
        again = await peers.mark_completed(seeded.session_id, asset_id, service)
        begun = await peers.begin_completion(seeded.session_id, seeded.owner)
        assert {(r.status, r.asset_id) for r in (completed, again, begun)} == {
            (UploadStatus.COMPLETED, asset_id)
        }
        code, _ = await refusal(peers.mark_completed(seeded.session_id, uuid.uuid4(), service))
        assert code == ErrorCode.INVALID_SESSION_STATE

    async def test_no_reply_in_time_is_a_transient_timeout(
        self, stalled: SessionPeers, owner: Principal
    ) -> None:
        with pytest.raises(TransientError) as raised:
            await stalled.begin_completion(uuid.uuid4(), owner)
        assert raised.value.code == ErrorCode.SERVICE_TIMEOUT

    async def test_a_command_the_broker_does_not_take_is_transient(
        self, unreachable: SessionPeers, owner: Principal
    ) -> None:
        with pytest.raises(TransientError) as raised:
            await unreachable.begin_completion(uuid.uuid4(), owner)
        assert raised.value.code == ErrorCode.SERVICE_UNAVAILABLE


def indexed(session_id: uuid.UUID, tenant_id: str, expires_at: datetime) -> IndexedSession:
    """A session as cleanup's index knows it."""
    return IndexedSession(
        id=session_id,
        tenant_id=tenant_id,
        status=UploadStatus.UPLOADING,
        bucket="intake-contract",
        temp_key=keys.temp_key(session_id),
        multipart_upload_id=None,
        expires_at=expires_at,
        last_event_at=expires_at - timedelta(days=1),
        active_since=expires_at - timedelta(days=1),
        asset_id=None,
        asset_created=False,
        asset_promoted=False,
    )


def of_index(seeded: Seeded) -> IndexedSession:
    return indexed(seeded.session_id, seeded.owner.tenant_id, seeded.expires_at)


# A direct upload made into an Asset through completion: its session.
CompletedUpload = Callable[[], Awaitable[Seeded]]


class CleanupPeersContract:
    """What the cleanup jobs rely on from any CleanupPeers (initiation and completion). Times
    are the real clock's: the real services' sessions are made now."""

    async def test_live_sessions_are_failed_and_the_others_named_where_they_stand(
        self, peers: CleanupPeers, seed: Seed
    ) -> None:
        live, cancelled, misfiled = (
            await seed("uploading"),
            await seed("cancelled"),
            await seed("uploading"),
        )
        unknown = indexed(uuid.uuid4(), live.owner.tenant_id, live.expires_at)
        # A row naming the wrong tenant finds nothing: each is looked up in its own.
        wrong_tenant = dataclasses.replace(of_index(misfiled), tenant_id="t-wrong")
        batch = [of_index(live), of_index(cancelled), unknown, wrong_tenant]
        result = await peers.fail_sessions(batch, "abandoned")
        assert result.moved == [live.session_id]
        assert [(v.upload_session_id, v.status) for v in result.unchanged] == [
            (cancelled.session_id, UploadStatus.CANCELLED)
        ]
        again = await peers.fail_sessions([of_index(live)], "abandoned")
        assert (again.moved, [v.status for v in again.unchanged]) == ([], [UploadStatus.FAILED])

    async def test_a_session_active_since_the_cutoff_or_not_yet_expired_is_spared(
        self, peers: CleanupPeers, seed: Seed
    ) -> None:
        seeded = await seed("uploading")
        session, now = of_index(seeded), datetime.now(UTC)
        for spared in (
            await peers.fail_sessions([session], "abandoned", idle_before=now - timedelta(hours=1)),
            await peers.fail_sessions([session], "expired", expired_at=now),
        ):
            assert (spared.moved, [v.status for v in spared.unchanged]) == (
                [],
                [UploadStatus.UPLOADING],
            )
        idle = await peers.fail_sessions(
            [session], "abandoned", idle_before=now + timedelta(minutes=5)
        )
        assert idle.moved == [seeded.session_id]

    async def test_a_completed_upload_is_answered_with_its_one_asset(
        self, peers: CleanupPeers, seed: Seed, completed_upload: CompletedUpload
    ) -> None:
        done = of_index(await completed_upload())
        first, second = await peers.complete(done), await peers.complete(done)
        assert first.asset.asset_id == second.asset.asset_id == keys.asset_id_for(done.id)
        assert (second.created, second.asset.tenant_id) == (False, done.tenant_id)
        cancelled = of_index(await seed("cancelled"))
        unknown = indexed(uuid.uuid4(), done.tenant_id, done.expires_at)
        assert [
            (await refusal(peers.complete(cancelled)))[0],
            await refusal(peers.complete(unknown)),
        ] == [ErrorCode.UPLOAD_CANCELLED, MISSING]

    async def test_nothing_finished_before_the_beginning_is_pruned(
        self, peers: CleanupPeers
    ) -> None:
        epoch = datetime(2000, 1, 1, tzinfo=UTC)
        for pruned in (
            await peers.prune_sessions(epoch, 10),
            await peers.prune_completions(epoch, 10),
        ):
            assert pruned.removed == 0
            assert pruned.exhausted(10)

    async def test_a_key_no_saga_owns_is_not_promoting(self, peers: CleanupPeers) -> None:
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        assert await peers.promoting_keys(tenant, [keys.asset_key(tenant, uuid.uuid4())]) == set()

    async def test_no_reply_in_time_and_a_broker_that_does_not_take_it_are_told_apart(
        self, stalled: CleanupPeers, unreachable: CleanupPeers
    ) -> None:
        nobody = indexed(uuid.uuid4(), "t-nobody", NOW)
        with pytest.raises(ReplyTimeoutError):
            await stalled.fail_sessions([nobody], "abandoned")
        with pytest.raises(BrokerUnavailableError):
            await unreachable.fail_sessions([nobody], "abandoned")


# The gateway's fake answers what a test scripts; the real services answer by themselves (the
# real adapter's `script` does nothing): the suite holds the scripts to what the services say.
Script = Callable[[CommandType, BaseModel | BaseException], None]


def session_view(**changes: object) -> SessionView:
    """A direct upload's view as initiation answers it (the gateway's fakes script it)."""
    return SessionView(
        upload_session_id=uuid.uuid4(),
        status=UploadStatus.UPLOADING,
        upload_type=UploadType.DIRECT,
        file_name="a.txt",
        file_size=5,
        mime_type="text/plain",
        brand_id="b",
        client_reference=None,
        batch_reference=None,
        expires_at=NOW,
        created_at=NOW,
        direct=DirectUpload(url="https://s3.test/put", headers={}, expires_at=NOW),
        multipart=None,
        asset_id=None,
    ).model_copy(update=changes)


def initiated_view(request: InitiateUpload) -> SessionView:
    """What initiation answers `request` (the fake's script)."""
    fields = ("file_name", "file_size", "mime_type", "brand_id")
    return session_view(**{name: getattr(request, name) for name in fields})


class CommandClientContract:
    """What the gateway's routes rely on from any CommandClient. `owner` is a user of a tenant
    of its own."""

    async def test_a_command_answers_its_own_result_model(
        self, client: CommandClient, script: Script, owner: Principal
    ) -> None:
        request = InitiateUpload(
            file_name="a.txt", file_size=5, mime_type="text/plain", brand_id=owner.brand_ids[0]
        )
        script(CommandType.INITIATE, initiated_view(request))
        view = await client.call(Commands.INITIATE, request, owner)
        assert type(view) is SessionView
        assert (view.file_name, view.file_size, view.status, view.brand_id) == (
            "a.txt",
            5,
            UploadStatus.UPLOADING,
            owner.brand_ids[0],
        )

    async def test_a_refusal_is_the_domain_error_the_service_answered(
        self, client: CommandClient, script: Script, owner: Principal
    ) -> None:
        script(CommandType.GET_SESSION, DomainError(*MISSING))
        missing = SessionRef(upload_session_id=uuid.uuid4())
        assert await refusal(client.call(Commands.GET_SESSION, missing, owner)) == MISSING
        request = InitiateUpload(
            file_name="a.txt", file_size=5, mime_type="text/plain", brand_id="not-in-the-token"
        )
        script(CommandType.INITIATE, DomainError(ErrorCode.BRAND_NOT_ALLOWED, "not yours"))
        code, _ = await refusal(client.call(Commands.INITIATE, request, owner))
        assert code == ErrorCode.BRAND_NOT_ALLOWED

    async def test_no_reply_in_time_and_a_broker_that_does_not_take_it_are_told_apart(
        self, stalled: CommandClient, unreachable: CommandClient, owner: Principal
    ) -> None:
        ref = SessionRef(upload_session_id=uuid.uuid4())
        with pytest.raises(ReplyTimeoutError):
            await stalled.call(Commands.GET_SESSION, ref, owner)
        with pytest.raises(BrokerUnavailableError):
            await unreachable.call(Commands.GET_SESSION, ref, owner)


# A reply topic held by a live consumer / one nobody holds / a topic that is no reply topic.
NewTopic = Callable[[], Awaitable[str]]


class ReplyTopicsContract:
    """What cleanup's sweep-reply-topics relies on from any ReplyTopics."""

    async def test_each_reply_topic_is_listed_with_whether_a_consumer_holds_it(
        self, topics: ReplyTopics, claimed: NewTopic, unclaimed: NewTopic, elsewhere: NewTopic
    ) -> None:
        held, dead, other = await claimed(), await unclaimed(), await elsewhere()
        live = await topics.liveness()
        assert (live.get(held), live.get(dead), other in live) == (True, False, False)
        assert all(topic.startswith(topics.prefix()) for topic in live)

    async def test_a_deleted_topic_is_gone_and_deleting_it_again_is_no_error(
        self, topics: ReplyTopics, unclaimed: NewTopic
    ) -> None:
        dead = await unclaimed()
        assert await topics.delete([dead]) == {dead: None}
        # Kafka deletes a topic in the background: gone soon after, not at the answer.
        await eventually(topics.liveness, lambda live: dead not in live)
        assert await topics.delete([dead]) == {dead: None}
