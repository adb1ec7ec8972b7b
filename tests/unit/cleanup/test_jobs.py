"""Cleanup's jobs on in-memory ports: what each one fails, removes and keeps, the errors it
logs and survives, and how it drains its backlog in batches. No server."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from intake_cleanup.domain import IndexedSession
from intake_cleanup.index import SessionIndex
from intake_cleanup.permanent_uploads import PermanentUploads
from intake_cleanup.report import RunReport
from intake_cleanup.retention_jobs import RetentionJobs
from intake_cleanup.session_jobs import SessionJobs
from intake_cleanup.settings import CleanupSettings
from intake_cleanup.storage_jobs import StorageJobs
from intake_contracts import keys
from intake_contracts.commands import AssetView, CompletionResult
from intake_contracts.envelope import Envelope
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.events import STATUS_EVENT, AssetPromoted, EventType
from intake_contracts.sessions import UploadStatus
from intake_runtime.messaging.requests import BrokerUnavailableError, ReplyTimeoutError
from tests.support.contracts import NOW, lifecycle
from tests.support.fakes import (
    FakeCleanupPeers,
    FakeIndexDatabase,
    FakeObjectStore,
    FakeReplyTopics,
    FakeRetention,
)

BUCKET = "intake-uploads"
HOUR = timedelta(hours=1)
LONG_AGO = NOW - timedelta(days=3)


@dataclass
class World:
    settings: CleanupSettings
    db: FakeIndexDatabase
    peers: FakeCleanupPeers
    store: FakeObjectStore
    retention: FakeRetention
    topics: FakeReplyTopics

    def session(
        self,
        status: UploadStatus = UploadStatus.UPLOADING,
        *,
        active_since: datetime = LONG_AGO,
        expires_at: datetime = NOW + HOUR,
        multipart: bool = False,
        tenant_id: str = "t1",
        initiation: UploadStatus | None = None,
    ) -> IndexedSession:
        """A session in the index (and, as `initiation` says, in initiation) with its bytes."""
        sid = uuid.uuid4()
        session = IndexedSession(
            id=sid,
            tenant_id=tenant_id,
            status=status,
            bucket=BUCKET,
            temp_key=keys.temp_key(sid),
            multipart_upload_id=f"up-{sid}" if multipart else None,
            expires_at=expires_at,
            last_event_at=active_since,
            active_since=active_since,
            asset_id=None,
            asset_created=False,
            asset_promoted=False,
        )
        self.db.index.add(session)
        self.peers.statuses[sid] = initiation or status
        self.store.put(BUCKET, session.temp_key, LONG_AGO)
        if multipart:
            self.store.open_upload(BUCKET, session.temp_key, f"up-{sid}", LONG_AGO)
        return session

    def status(self, session: IndexedSession) -> UploadStatus:
        return self.db.index.rows[session.id].session.status

    def sessions(self) -> SessionJobs:
        return SessionJobs(self.settings, self.db.index, self.peers, self.store)

    def storage(self) -> StorageJobs:
        return StorageJobs(self.settings, self.db.index, self.store)

    def permanent(self) -> PermanentUploads:
        return PermanentUploads(self.settings, self.store, self.peers)

    def retention_jobs(self) -> RetentionJobs:
        return RetentionJobs(self.settings, self.retention, self.peers, self.topics)


@pytest.fixture
def world() -> World:
    settings = CleanupSettings(INTAKE_ENV="local").model_copy(
        update={
            "batch_limit": 2,
            "abandoned_after_s": 3600,
            "orphan_temp_after_s": 3600,
            "orphan_multipart_after_s": 3600,
            "reconcile_after_s": 300,
            "reply_topic_grace_s": 600,
        }
    )
    return World(
        settings,
        FakeIndexDatabase(),
        FakeCleanupPeers(),
        FakeObjectStore(page_size=2),
        FakeRetention(),
        FakeReplyTopics(),
    )


def report(job: str = "job") -> RunReport:
    return RunReport(job)


# --- session jobs ------------------------------------------------------------------------------


async def test_abandoned_sessions_are_failed_in_drained_batches_and_their_residue_removed(
    world: World,
) -> None:
    idle = [world.session(multipart=n == 0) for n in range(5)]
    recent = world.session(active_since=NOW - timedelta(minutes=5))
    run = report()
    await world.sessions().detect_abandoned(run, NOW, None)
    assert run.stats["batches"] == 3  # pages of 2, 2 and 1: the whole backlog in one run
    assert run.stats["failed"] == 5
    assert run.stats["residue_removed"] == 5
    assert all(world.status(s) == UploadStatus.FAILED for s in idle)
    assert world.status(recent) == UploadStatus.UPLOADING
    assert all((BUCKET, s.temp_key) in world.store.deleted for s in idle)
    assert world.store.aborted == [(BUCKET, f"up-{idle[0].id}")]
    assert (BUCKET, recent.temp_key) not in world.store.deleted
    assert {reason for _, reason in world.peers.fail_calls} == {"abandoned"}
    assert run.errors == []


async def test_initiations_answer_decides_what_the_index_and_storage_do(world: World) -> None:
    moved = world.session()
    active = world.session()
    world.peers.active.add(active.id)  # initiation saw activity after the cutoff
    terminal = world.session(initiation=UploadStatus.CANCELLED)
    unknown = world.session()
    del world.peers.statuses[unknown.id]
    run = report()
    await world.sessions().detect_abandoned(run, NOW, None)
    expected = {"failed": 1, "still_active": 1, "already_terminal": 1, "unknown": 1}
    assert {name: run.stats[name] for name in expected} == expected
    assert world.status(moved) == UploadStatus.FAILED
    assert world.status(terminal) == UploadStatus.CANCELLED
    # The live one waits for the next run: its activity is now known to be after the cutoff.
    assert world.db.index.rows[active.id].session.active_since == NOW - HOUR
    assert world.status(active) == UploadStatus.UPLOADING
    # Only what this run failed loses its bytes; the others are not cleanup's to touch here.
    assert [key for _, key in world.store.deleted] == [moved.temp_key]


async def test_residue_that_s3_refuses_is_left_for_the_orphan_jobs(world: World) -> None:
    stuck, fine = world.session(), world.session()
    world.store.failing_keys.add(stuck.temp_key)
    run = report()
    await world.sessions().detect_abandoned(run, NOW, None)
    assert (run.stats["residue_left"], run.stats["residue_removed"]) == (1, 1)
    assert world.status(stuck) == UploadStatus.FAILED  # failed all the same
    assert (BUCKET, fine.temp_key) in world.store.deleted


async def test_a_refused_or_unanswered_batch_is_logged_and_the_run_goes_on(world: World) -> None:
    world.settings = world.settings.model_copy(update={"batch_limit": 1000})
    sessions = [world.session() for _ in range(3)]
    world.peers.broken["fail_sessions"] = ReplyTimeoutError("no reply in 10 s")
    run = report()
    await world.sessions().detect_abandoned(run, NOW, None)
    assert run.stats["errors"] == 1
    assert "fail_sessions of 3 (abandoned)" in run.errors[0]
    assert all(world.status(s) == UploadStatus.UPLOADING for s in sessions)
    again = report()
    await world.sessions().detect_abandoned(again, NOW, None)  # the next run retries
    assert again.stats["failed"] == 3


async def test_a_lost_broker_stops_the_run_for_the_next_one_to_retry(world: World) -> None:
    world.session()
    world.peers.broken["fail_sessions"] = BrokerUnavailableError("kafka down")
    with pytest.raises(BrokerUnavailableError):
        await world.sessions().detect_abandoned(report(), NOW, None)


async def test_expiry_fails_live_sessions_past_their_expiry_only(world: World) -> None:
    expired = world.session(expires_at=NOW - timedelta(minutes=1), active_since=NOW)
    valid = world.session(active_since=NOW)
    run = report()
    await world.sessions().expire_sessions(run, NOW, None)
    assert world.status(expired) == UploadStatus.FAILED
    assert world.status(valid) == UploadStatus.UPLOADING
    assert world.peers.fail_calls == [([expired.id], "expired")]


async def test_a_tenant_scope_limits_the_job_to_that_tenant(world: World) -> None:
    mine, theirs = world.session(tenant_id="t1"), world.session(tenant_id="t2")
    await world.sessions().detect_abandoned(report(), NOW, "t2")
    assert (world.status(mine), world.status(theirs)) == (
        UploadStatus.UPLOADING,
        UploadStatus.FAILED,
    )


def _completed(session: IndexedSession, *, promoted: bool) -> CompletionResult:
    asset_id = keys.asset_id_for(session.id)
    return CompletionResult(
        asset=AssetView(
            asset_id=asset_id,
            upload_session_id=session.id,
            tenant_id=session.tenant_id,
            brand_id="b",
            title="a",
            file_name="a",
            mime_type="text/plain",
            size_bytes=5,
            bucket=BUCKET,
            object_key=keys.asset_key(session.tenant_id, asset_id)
            if promoted
            else session.temp_key,
            checksum_sha256=None,
            created_at=NOW,
            promoted_at=NOW if promoted else None,
        ),
        upload_session_id=session.id,
        created=False,
    )


async def test_reconcile_asks_completion_again_and_records_where_the_asset_is(
    world: World,
) -> None:
    promoted = world.session(UploadStatus.COMPLETED)
    promoting = world.session(UploadStatus.COMPLETED)
    failing = world.session(UploadStatus.COMPLETED)
    recent = world.session(UploadStatus.COMPLETED, active_since=NOW - timedelta(minutes=1))
    world.peers.assets[promoted.id] = _completed(promoted, promoted=True)
    world.peers.assets[promoting.id] = _completed(promoting, promoted=False)
    world.peers.broken[f"complete:{failing.id}"] = DomainError(
        ErrorCode.SERVICE_UNAVAILABLE, "tenant at its cap"
    )
    run = report()
    await world.sessions().reconcile(run, NOW, None)
    assert (run.stats["completed"], run.stats["promoting"], run.stats["errors"]) == (1, 1, 1)
    assert recent.id not in world.peers.completed  # completion may still be at it
    assert world.db.index.assets[promoted.id][2] is True
    assert world.db.index.assets[promoting.id][2] is False
    again = report()
    await world.sessions().reconcile(again, NOW, None)
    # The promoted one is done; the others are asked again (the failing one now answers
    # not-found, logged once more).
    assert promoted.id not in world.peers.completed[3:]
    assert again.stats["promoting"] == 1


# --- storage jobs ------------------------------------------------------------------------------


async def test_orphaned_temp_objects_go_and_everything_still_needed_stays(world: World) -> None:
    failed = world.session(UploadStatus.FAILED)
    live = world.session()
    completed = world.session(UploadStatus.COMPLETED)
    promoted = world.session(UploadStatus.COMPLETED)
    world.db.index.assets[promoted.id] = (uuid.uuid4(), "t1", True)
    unknown_key = keys.temp_key(uuid.uuid4())
    world.store.put(BUCKET, unknown_key, LONG_AGO)
    young_key = keys.temp_key(uuid.uuid4())
    world.store.put(BUCKET, young_key, NOW - timedelta(minutes=5))
    world.store.put(BUCKET, "temp/uploads/not-a-session/x", LONG_AGO)
    run = report("orphaned-temp-objects")
    await world.storage().orphaned_temp_objects(run, NOW)
    gone = {key for _, key in world.store.deleted}
    assert gone == {failed.temp_key, promoted.temp_key, unknown_key}
    left = set(world.store.objects[BUCKET])
    assert {live.temp_key, completed.temp_key, young_key, "temp/uploads/not-a-session/x"} <= left
    reasons = {event.key: event.reason for event in run.residue}
    assert reasons == {
        failed.temp_key: "session_failed",
        promoted.temp_key: "session_completed",
        unknown_key: "unknown_session",
    }
    assert {event.tenant_id for event in run.residue} == {"t1", None}
    assert run.stats["listed"] == 7


async def test_a_refused_delete_is_logged_and_the_others_still_go(world: World) -> None:
    stuck, fine = world.session(UploadStatus.FAILED), world.session(UploadStatus.FAILED)
    world.store.failing_keys.add(stuck.temp_key)
    run = report()
    await world.storage().orphaned_temp_objects(run, NOW)
    assert (run.stats["deleted"], run.stats["errors"]) == (1, 1)
    assert stuck.temp_key in run.errors[0]
    assert (BUCKET, fine.temp_key) in world.store.deleted


async def test_orphaned_multipart_uploads_are_aborted_and_confirmed_gone(world: World) -> None:
    failed = world.session(UploadStatus.FAILED, multipart=True)
    live = world.session(multipart=True)
    sticky = world.session(UploadStatus.CANCELLED, multipart=True)
    world.store.sticky_uploads.add(f"up-{sticky.id}")
    run = report()
    await world.storage().orphaned_multipart(run, NOW)
    assert run.stats["aborted"] == 1
    assert [e.upload_id for e in run.residue] == [f"up-{failed.id}"]
    assert f"up-{live.id}" in world.store.uploads[BUCKET]
    # S3 answered the abort but still lists the upload: an error, not a removal.
    assert run.stats["errors"] == 1
    assert "still listed with 1 parts" in run.errors[0]


async def test_per_tenant_buckets_are_each_swept(world: World) -> None:
    world.settings = world.settings.model_copy(
        update={"storage_provision_strategy": "per_tenant", "aws_bucket": "intake"}
    )
    for bucket in ("intake-t1", "intake-t2", "other-t3"):
        world.store.put(bucket, keys.temp_key(uuid.uuid4()), LONG_AGO)
    await world.storage().orphaned_temp_objects(report(), NOW)
    assert sorted(bucket for bucket, _ in world.store.deleted) == ["intake-t1", "intake-t2"]


async def test_permanent_uploads_no_saga_owns_are_aborted(world: World) -> None:
    owned = keys.asset_key("t1", uuid.uuid4())
    stray = keys.asset_key("t1", uuid.uuid4())
    young = keys.asset_key("t1", uuid.uuid4())
    world.store.open_upload(BUCKET, owned, "u-owned", LONG_AGO)
    world.store.open_upload(BUCKET, stray, "u-stray", LONG_AGO)
    world.store.open_upload(BUCKET, young, "u-young", NOW)
    world.peers.promoting["t1"] = {owned}
    run = report()
    await world.permanent().sweep(run, [BUCKET], NOW)
    assert world.store.aborted == [(BUCKET, "u-stray")]
    assert run.stats["permanent_owned"] == 1
    assert [(e.tenant_id, e.reason) for e in run.residue] == [("t1", "no_promotion")]


async def test_without_completions_answer_no_permanent_upload_is_touched(world: World) -> None:
    world.store.open_upload(BUCKET, keys.asset_key("t1", uuid.uuid4()), "u-1", LONG_AGO)
    world.peers.broken["promoting:t1"] = ReplyTimeoutError("no reply")
    run = report()
    await world.permanent().sweep(run, [BUCKET], NOW)
    assert world.store.aborted == []
    assert run.stats["errors"] == 1


# --- retention ---------------------------------------------------------------------------------


async def test_prune_drains_every_peer_and_table_in_batches(world: World) -> None:
    world.peers.backlog = {"initiation": 5, "completion": 1}
    world.retention.aged["index"] = [LONG_AGO - timedelta(days=60)] * 3
    world.retention.aged["job_runs"] = [NOW - HOUR]  # young: stays
    run = report()
    await world.retention_jobs().prune_sessions(run, NOW, None)
    assert world.peers.backlog == {"initiation": 0, "completion": 0}
    assert (run.stats["initiation_removed"], run.stats["completion_removed"]) == (5, 1)
    assert run.stats["index_removed"] == 3
    assert world.retention.aged["job_runs"] == [NOW - HOUR]
    assert [n for table, n in world.retention.batches if table == "index"] == [2, 1]


async def test_a_peer_that_fails_to_prune_is_logged_and_the_rest_is_pruned(world: World) -> None:
    world.peers.backlog = {"initiation": 1, "completion": 1}
    world.peers.broken["prune:initiation"] = DomainError(ErrorCode.VALIDATION_FAILED, "no")
    run = report()
    await world.retention_jobs().prune_sessions(run, NOW, None)
    assert run.stats["errors"] == 1
    assert "prune initiation" in run.errors[0]
    assert world.peers.backlog == {"initiation": 1, "completion": 0}


async def test_reply_topics_go_once_unclaimed_for_the_grace_period(world: World) -> None:
    prefix = world.topics.prefix()
    live, dead, refused = f"{prefix}live", f"{prefix}dead", f"{prefix}refused"
    world.topics.topics = {live: True, dead: False, refused: False, "someone.else": False}
    world.topics.refuse.add(refused)
    jobs = world.retention_jobs()
    first = report()
    await jobs.sweep_reply_topics(first, NOW)
    assert world.topics.deleted == []  # first seen unclaimed now: within its grace
    assert world.retention.unclaimed == {dead: NOW, refused: NOW}
    later = report()
    await jobs.sweep_reply_topics(later, NOW + timedelta(minutes=11))
    assert world.topics.deleted == [dead]
    assert (later.stats["deleted"], later.stats["errors"]) == (1, 1)
    assert live in world.topics.topics
    assert "someone.else" in world.topics.topics  # another namespace's: never ours
    assert dead not in world.retention.unclaimed


# --- the index ---------------------------------------------------------------------------------


def _envelope(event_type: EventType, payload: object, message_id: uuid.UUID) -> Envelope:
    return Envelope(
        message_id=message_id,
        type=event_type,
        correlation_id="c",
        occurred_at=NOW,
        payload=payload.model_dump(mode="json"),  # type: ignore[attr-defined]
    )


async def test_the_index_applies_each_event_once_and_records_assets(world: World) -> None:
    sid, message = uuid.uuid4(), uuid.uuid4()
    event = lifecycle(sid, "t1", UploadStatus.UPLOADING)
    uploading = _envelope(STATUS_EVENT[UploadStatus.UPLOADING], event, message)
    index = SessionIndex(world.db)
    assert await index.apply([uploading, uploading]) == 1
    assert await index.apply([uploading]) == 0  # redelivered: nothing new
    asset_id = keys.asset_id_for(sid)
    promoted = AssetPromoted(
        **_completed(world.session(), promoted=True).asset.model_dump(
            include=set(AssetPromoted.model_fields) - {"previous_key"}
        )
        | {"upload_session_id": sid, "asset_id": asset_id},
        previous_key=keys.temp_key(sid),
    )
    assert await index.apply([_envelope(EventType.ASSET_PROMOTED, promoted, uuid.uuid4())]) == 1
    assert world.db.index.rows[sid].session.status == UploadStatus.UPLOADING
    assert world.db.index.assets[sid] == (asset_id, "t1", True)
