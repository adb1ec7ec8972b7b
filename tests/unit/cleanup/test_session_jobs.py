"""Cleanup's session jobs on in-memory ports (abandoned, expired, reconcile): what they fail,
the residue they remove, what they keep, the errors they log and survive, draining batches."""

from datetime import timedelta

import pytest

from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.sessions import UploadStatus
from intake_runtime.messaging.requests import BrokerUnavailableError, ReplyTimeoutError
from tests.support.cleanup import (
    BUCKET,
    HOUR,
    World,
    completed,
    report,
)
from tests.support.contracts.common import NOW


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
    assert world.store.delete_requests == 3  # one DeleteObjects a page, not one per session
    assert world.store.aborted == [(BUCKET, f"up-{idle[0].id}")]
    assert (BUCKET, recent.temp_key) not in world.store.deleted
    assert {reason for _, reason in world.outbound.fail_calls} == {"abandoned"}
    assert run.errors == []


async def test_initiations_answer_decides_what_the_index_and_storage_do(world: World) -> None:
    moved = world.session()
    active = world.session()
    world.outbound.activity[active.id] = NOW  # initiation saw activity after the cutoff
    terminal = world.session(initiation=UploadStatus.CANCELLED)
    unknown = world.session()
    del world.outbound.statuses[unknown.id]
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
    world.outbound.broken["fail_sessions"] = ReplyTimeoutError("no reply in 10 s")
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
    world.outbound.broken["fail_sessions"] = BrokerUnavailableError("kafka down")
    with pytest.raises(BrokerUnavailableError):
        await world.sessions().detect_abandoned(report(), NOW, None)


async def test_expiry_fails_live_sessions_past_their_expiry_only(world: World) -> None:
    expired = world.session(expires_at=NOW - timedelta(minutes=1), active_since=NOW)
    valid = world.session(active_since=NOW)
    run = report()
    await world.sessions().expire_sessions(run, NOW, None)
    assert world.status(expired) == UploadStatus.FAILED
    assert world.status(valid) == UploadStatus.UPLOADING
    assert world.outbound.fail_calls == [([expired.id], "expired")]


async def test_a_tenant_scope_limits_the_job_to_that_tenant(world: World) -> None:
    mine, theirs = world.session(tenant_id="t1"), world.session(tenant_id="t2")
    await world.sessions().detect_abandoned(report(), NOW, "t2")
    assert (world.status(mine), world.status(theirs)) == (
        UploadStatus.UPLOADING,
        UploadStatus.FAILED,
    )


async def test_reconcile_asks_completion_again_and_records_where_the_asset_is(
    world: World,
) -> None:
    promoted = world.session(UploadStatus.COMPLETED)
    promoting = world.session(UploadStatus.COMPLETED)
    failing = world.session(UploadStatus.COMPLETED)
    recent = world.session(UploadStatus.COMPLETED, active_since=NOW - timedelta(minutes=1))
    world.outbound.assets[promoted.id] = completed(promoted, promoted=True)
    world.outbound.assets[promoting.id] = completed(promoting, promoted=False)
    world.outbound.broken[f"complete:{failing.id}"] = DomainError(
        ErrorCode.SERVICE_UNAVAILABLE, "tenant at its cap"
    )
    run = report()
    await world.sessions().reconcile(run, NOW, None)
    assert (run.stats["completed"], run.stats["promoting"], run.stats["errors"]) == (1, 1, 1)
    assert recent.id not in world.outbound.completed  # completion may still be at it
    assert world.db.index.assets[promoted.id][2] is True
    assert world.db.index.assets[promoting.id][2] is False
    again = report()
    await world.sessions().reconcile(again, NOW, None)
    # The promoted one is done; the others are asked again (the failing one now answers
    # not-found, logged once more).
    assert promoted.id not in world.outbound.completed[3:]
    assert again.stats["promoting"] == 1
