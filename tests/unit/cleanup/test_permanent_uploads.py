"""Multipart uploads under the permanent prefix: aborted only when no saga owns them and
completion answered for every tenant."""

import uuid

from intake_contracts import keys
from intake_runtime.messaging.requests import ReplyTimeoutError
from tests.support.cleanup import (
    BUCKET,
    LONG_AGO,
    World,
    report,
)
from tests.support.contracts.common import NOW


async def test_permanent_uploads_no_saga_owns_are_aborted(world: World) -> None:
    owned = keys.asset_key("t1", uuid.uuid4())
    stray = keys.asset_key("t1", uuid.uuid4())
    young = keys.asset_key("t1", uuid.uuid4())
    world.store.open_upload(BUCKET, owned, "u-owned", LONG_AGO)
    world.store.open_upload(BUCKET, stray, "u-stray", LONG_AGO)
    world.store.open_upload(BUCKET, young, "u-young", NOW)
    world.outbound.promoting["t1"] = {owned}
    run = report()
    await world.permanent().sweep(run, [BUCKET], NOW)
    assert world.store.aborted == [(BUCKET, "u-stray")]
    assert run.stats["permanent_owned"] == 1
    assert [(e.tenant_id, e.reason) for e in run.residue] == [("t1", "no_promotion")]


async def test_without_completions_answer_no_permanent_upload_is_touched(world: World) -> None:
    world.store.open_upload(BUCKET, keys.asset_key("t1", uuid.uuid4()), "u-1", LONG_AGO)
    world.outbound.broken["promoting:t1"] = ReplyTimeoutError("no reply")
    run = report()
    await world.permanent().sweep(run, [BUCKET], NOW)
    assert world.store.aborted == []
    assert run.stats["errors"] == 1
