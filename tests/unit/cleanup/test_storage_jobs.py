"""Cleanup's storage jobs on in-memory ports: which temp objects and multipart uploads go,
which stay, and the S3 refusals they log and survive."""

import uuid
from datetime import timedelta

from intake_contracts import keys
from intake_contracts.sessions import UploadStatus
from tests.support.cleanup import (
    BUCKET,
    LONG_AGO,
    World,
    report,
)
from tests.support.contracts.common import NOW


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
