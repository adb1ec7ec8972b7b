"""Promotion after `complete`: crashes converge, cleanup spares what an Asset names, one event.

The completion process is swapped for variants (a fault injected, a sweep that never comes
back) the way test_completion's crash test does it, then restored.
"""

import asyncio
import hashlib
import os
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from intake_cleanup.domain import Job
from intake_contracts import keys
from tests.conftest import Caller, System, new_caller
from tests.e2e.test_cleanup import cleanup
from tests.e2e.test_completion import (
    assert_unchanged,
    complete,
    direct_upload,
    promoted,
    promoted_events,
    read,
    readable_until_promoted,
    refused,
    temp_key,
)
from tests.support.storage import exists
from tests.support.variants import service_as
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def saga_row(db: asyncpg.Connection, session_id: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT step, lease_until FROM completion.completions WHERE upload_session_id = $1",
        uuid.UUID(session_id),
    )
    assert row is not None
    return row


async def asset_row(db: asyncpg.Connection, session_id: str) -> asyncpg.Record:
    [row] = await db.fetch(
        "SELECT object_key, promoted_at FROM completion.assets WHERE upload_session_id = $1",
        uuid.UUID(session_id),
    )
    return row


async def seen_unpromoted(db: asyncpg.Connection, session_id: str) -> bool:
    return bool(
        await db.fetchval(
            "SELECT promoted_at IS NULL FROM cleanup.assets_seen WHERE session_id = $1",
            uuid.UUID(session_id),
        )
    )


async def event_types(api: httpx.AsyncClient, caller: Caller, session_id: str) -> list[str]:
    answer = await api.get(f"/app/uploads/{session_id}/events", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return [event["type"] for event in answer.json()["events"]]


async def test_a_crash_during_promotion_converges_and_cleanup_spares_the_named_temp_object(
    system: System,
    api: httpx.AsyncClient,
    caller: Caller,
    db: asyncpg.Connection,
    s3: Any,
    stack_env: dict[str, str],
) -> None:
    body = os.urandom(3000)
    session_id = await direct_upload(api, caller, body)

    # 1. The process dies (os._exit, no clean-up: a kill -9 at that point) after copying the
    # object and before the Asset names the copy. Its lease is long: nobody takes over alone.
    fault = {
        "INTAKE_COMPLETION_FAULT": "crash_during_promotion",
        "INTAKE_COMPLETION_LEASE_S": "600",
    }
    async with service_as(system, "completion", "crashing", **fault) as crashing:

        async def exit_code() -> int | None:
            return crashing.process.poll()  # type: ignore[no-any-return]

        first = asyncio.create_task(complete(api, caller, session_id))
        assert await eventually(exit_code, lambda code: code is not None, timeout_s=60) == 1
        first.cancel()

    # 2. A process whose sweep runs once, at start, while the lease is still held: only
    # reconcile can finish this promotion. It relays the crashed process's asset.created.
    sweepless = {"INTAKE_PROMOTION_SWEEP_S": "3600"}
    async with service_as(system, "completion", "sweepless", **sweepless):
        await _spared_then_reconciled(api, caller, db, s3, stack_env, session_id, body)


async def _spared_then_reconciled(
    api: httpx.AsyncClient,
    caller: Caller,
    db: asyncpg.Connection,
    s3: Any,
    stack_env: dict[str, str],
    session_id: str,
    body: bytes,
) -> None:
    bucket = stack_env["AWS_BUCKET"]
    temp = temp_key(session_id)
    row = await asset_row(db, session_id)
    assert (row["object_key"], row["promoted_at"]) == (temp, None)
    assert (await saga_row(db, session_id))["step"] == "promoting"
    await eventually(lambda: seen_unpromoted(db, session_id), timeout_s=60)

    # 3. Cleanup, with every threshold at zero, keeps the temp object the Asset names.
    async with cleanup(stack_env, INTAKE_ORPHAN_TEMP_AFTER_S="0") as service:
        view = await service.run(Job.ORPHANED_TEMP_OBJECTS)
    assert view.status == "ok", view.errors
    assert read(s3, bucket, temp) == body
    answer = await complete(api, caller, session_id)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["asset"]["object_key"], answer.json()["asset"]["promoted_at"]) == (
        temp,
        None,
    )

    # 4. The crashed worker's lease runs out (its 600 s, fast-forwarded); reconcile asks
    # completion again, which finishes the promotion. The bytes stay readable all along.
    await db.execute(
        "UPDATE completion.completions SET lease_until = now() WHERE upload_session_id = $1",
        uuid.UUID(session_id),
    )
    async with cleanup(stack_env, INTAKE_RECONCILE_AFTER_S="0") as service:
        reconciled = await service.run(Job.RECONCILE, tenant_id=caller.tenant_id)
    assert reconciled.status == "ok", reconciled.errors
    named = await readable_until_promoted(
        api, caller, s3, session_id, hashlib.sha256(body).digest()
    )
    permanent = keys.asset_key(caller.tenant_id, keys.asset_id_for(uuid.UUID(session_id)))
    assert named[-1] == permanent

    final = await promoted(db, session_id)
    assert final["object_key"] == permanent
    assert read(s3, bucket, permanent) == body
    assert not exists(s3, bucket, temp)
    assert await promoted_events(db, session_id) == 1
    expected_events = [
        "upload.initiated",
        "upload.uploading",
        "upload.completed",
        "asset.created",
        "asset.promoted",
    ]
    await eventually(
        lambda: event_types(api, caller, session_id),
        lambda types: types == expected_events,
        timeout_s=60,
    )


async def test_another_tenant_is_refused_at_once_while_the_owner_waits_for_a_held_step(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection
) -> None:
    session_id = await direct_upload(api, caller, os.urandom(500))
    # What a worker in the middle of finalizing holds: the saga row and a live lease.
    await db.execute(
        "INSERT INTO completion.completions"
        " (upload_session_id, tenant_id, asset_id, step, lease_owner, lease_until)"
        " VALUES ($1, $2, $3, 'finalizing', $4, now() + interval '1 hour')",
        uuid.UUID(session_id),
        caller.tenant_id,
        keys.asset_id_for(uuid.UUID(session_id)),
        uuid.uuid4(),
    )
    owner = asyncio.create_task(complete(api, caller, session_id))
    # The owner's call waits for the lease (an hour); the intruder's is refused without
    # waiting on it: waiting would end in a 504 after the lock timeout.
    refused(await complete(api, new_caller(), session_id), 404, "upload_session_not_found")
    assert not owner.done()
    # Once the holder lets go, the waiting call takes the step over and finishes.
    await db.execute(
        "UPDATE completion.completions SET lease_until = NULL WHERE upload_session_id = $1",
        uuid.UUID(session_id),
    )
    answer = await owner
    assert answer.status_code == 201, answer.text
    await promoted(db, session_id)


async def test_a_tenant_at_its_cap_is_told_to_retry_while_other_tenants_complete(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection
) -> None:
    busy = [uuid.uuid4(), uuid.uuid4()]  # the cap in tests is the default, 2
    for session in busy:
        await db.execute(
            "INSERT INTO completion.completions"
            " (upload_session_id, tenant_id, asset_id, step, lease_owner, lease_until)"
            " VALUES ($1, $2, $3, 'finalizing', $4, now() + interval '1 hour')",
            session,
            caller.tenant_id,
            keys.asset_id_for(session),
            uuid.uuid4(),
        )
    session_id = await direct_upload(api, caller, os.urandom(500))
    answer = await complete(api, caller, session_id)
    refused(answer, 503, "service_unavailable")
    assert answer.headers.get("retry-after")
    await assert_unchanged(api, caller, db, session_id)

    other = new_caller()
    elsewhere = await direct_upload(api, other, os.urandom(500))
    assert (await complete(api, other, elsewhere)).status_code == 201

    await db.execute(
        "UPDATE completion.completions SET lease_until = NULL WHERE upload_session_id = ANY($1)",
        busy,
    )
    assert (await complete(api, caller, session_id)).status_code == 201
