"""Cleanup's contract suites: the session index, pruning and its storage."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from intake_cleanup.ports import (
    CleanupStorage,
    IndexDatabase,
    PruneRepository,
)
from intake_contracts.events import (
    UploadLifecycleEvent,
)
from intake_contracts.sessions import (
    UploadStatus,
)
from intake_runtime.storage.s3 import UploadNotFoundError
from tests.support.contracts.common import NOW
from tests.support.contracts.completion_storage import Put
from tests.support.events import lifecycle_event

OpenUpload = Callable[[str, str], Awaitable[str]]


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
        await self._index(database, (lifecycle_event(sid, tenant, UploadStatus.UPLOADING), at))
        # A late INITIATING never takes it back; FAILED wins over an older UPLOADING.
        await self._index(
            database,
            (lifecycle_event(sid, tenant, UploadStatus.INITIATING), at + timedelta(minutes=5)),
            (lifecycle_event(sid, tenant, UploadStatus.FAILED), at - timedelta(minutes=5)),
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
            (lifecycle_event(sid, tenant, UploadStatus.UPLOADING), NOW - timedelta(hours=5 - n))
            for n, sid in enumerate(ids)
        ]
        fresh = uuid.uuid4()
        await self._index(
            database, *events, (lifecycle_event(fresh, tenant, UploadStatus.UPLOADING), NOW)
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
            (lifecycle_event(late, tenant, UploadStatus.UPLOADING, expires_at=past), past),
            (lifecycle_event(failed, tenant, UploadStatus.FAILED, expires_at=past), past),
            (lifecycle_event(fine, tenant, UploadStatus.UPLOADING), past),
        )
        found = await database.index.expired_sessions(NOW, 10, tenant)
        assert [s.id for s in found] == [late]

    async def test_reconcile_sees_completed_sessions_until_their_asset_is_promoted(
        self, database: IndexDatabase, tenant: str
    ) -> None:
        sid, asset = uuid.uuid4(), uuid.uuid4()
        past = NOW - timedelta(hours=1)
        await self._index(database, (lifecycle_event(sid, tenant, UploadStatus.COMPLETED), past))
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
                await index.upsert_sessions(
                    [(lifecycle_event(sid, tenant, UploadStatus.UPLOADING), NOW)]
                )
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await apply_then_fail()
        assert await database.index.sessions_by_ids([sid]) == {}
        async with database.transaction() as index:
            assert await index.claim_events([message]) == {message}


class PruneRepositoryContract:
    """What the prune jobs rely on from any PruneRepository."""

    async def test_a_topic_keeps_the_instant_it_was_first_seen_unclaimed(
        self, prune_repo: PruneRepository
    ) -> None:
        one, two = f"t-{uuid.uuid4().hex}", f"t-{uuid.uuid4().hex}"
        first = await prune_repo.unclaimed_since([one], NOW)
        assert first == {one: NOW}
        later = NOW + timedelta(minutes=5)
        assert await prune_repo.unclaimed_since([one, two], later) == {one: NOW, two: later}
        # Claimed again meanwhile: forgotten, so a later death starts a new grace period.
        assert await prune_repo.unclaimed_since([two], later) == {two: later}
        assert await prune_repo.unclaimed_since([one, two], later + timedelta(1)) == {
            one: later + timedelta(1),
            two: later,
        }
        await prune_repo.forget([one])
        assert (await prune_repo.unclaimed_since([one], later + timedelta(2)))[one] == later + (
            timedelta(2)
        )
        await prune_repo.unclaimed_since([], NOW)  # leave nothing for the next test

    async def test_nothing_older_than_the_beginning_is_pruned(
        self, prune_repo: PruneRepository
    ) -> None:
        epoch = datetime(2000, 1, 1, tzinfo=UTC)
        assert await prune_repo.prune_index(epoch, 10) == 0
        assert await prune_repo.prune_seen_events(epoch, 10) == 0
        assert await prune_repo.prune_job_runs(epoch, 10) == 0


class CleanupStorageContract:
    """What the cleanup jobs rely on from any CleanupStorage (the typed S3 adapter's surface).
    `put` writes an object, `open_upload` starts a multipart upload and returns its id.
    `bucket` is the suite's own: tests/unit/conftest.py's on fakes, the stack's on S3."""

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
