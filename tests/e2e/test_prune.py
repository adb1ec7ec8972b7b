"""Pruning end to end: finished sessions pruned everywhere in batches, dead instances' reply
topics swept while live ones keep working, and orphaned multipart copies under the permanent
prefix aborted unless completion owns them. The real stack and the services as processes;
the jobs run in-process (tests/e2e/test_cleanup.py explains the set-up)."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from intake_cleanup.domain import Job
from intake_contracts import topics
from intake_contracts.commands import (
    CommandType,
    PromotingKeys,
    PromotingKeysView,
    PruneOlderThan,
)
from intake_contracts.envelope import Principal
from intake_contracts.errors import ErrorCode
from intake_contracts.keys import asset_key
from intake_runtime.messaging import kafka, names
from intake_runtime.messaging.reply_topics import reply_topics_liveness
from intake_runtime.messaging.requests import RequestReplyClient
from tests.conftest import Stage, System
from tests.e2e.test_cleanup import cleanup, requests, wait_indexed
from tests.support import stack
from tests.support.api import initiate, upload_and_complete
from tests.support.saga import saga_done
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

__all__ = ["requests"]  # the fixture, shared with test_cleanup

OLD = timedelta(days=40)  # past the 30-day default INTAKE_PRUNE_AFTER_S
SYNTHETIC_INBOX_ROWS = 2500  # more than two batches of the default 1,000
FAR_FUTURE = datetime(2099, 1, 1, tzinfo=UTC)


async def backdate(db: asyncpg.Connection, session_ids: list[uuid.UUID]) -> None:
    """Make these sessions look finished 40 days ago in every schema that keeps them."""
    await db.execute(
        "UPDATE initiation.upload_sessions SET updated_at = now() - $2::interval"
        " WHERE id = ANY($1)",
        session_ids,
        OLD,
    )
    await db.execute(
        "UPDATE completion.completions SET updated_at = now() - $2::interval"
        " WHERE upload_session_id = ANY($1)",
        session_ids,
        OLD,
    )
    await db.execute(
        "UPDATE cleanup.session_index SET updated_at = now() - $2::interval"
        " WHERE session_id = ANY($1)",
        session_ids,
        OLD,
    )


async def test_prune_sessions_removes_finished_rows_everywhere_in_batches_and_keeps_the_asset(
    stage: Stage,
) -> None:
    if "completion" not in stage.system.processes:
        pytest.skip("needs the completion service")
    completed = await upload_and_complete(stage.api, stage.caller, b"r" * 1024)
    cancelled = (await initiate(stage.api, stage.caller, 1024))["upload_session_id"]
    assert (
        await stage.api.post(f"/app/uploads/{cancelled}/cancel", headers=stage.caller.headers)
    ).status_code == 200
    live = (await initiate(stage.api, stage.caller, 1024))["upload_session_id"]
    await saga_done(stage.db, completed)
    # Cleanup keeps a COMPLETED session until it has seen the asset promoted, and each event
    # it consumes after the backdating below would make the row young again: wait for both.
    await wait_indexed(stage.db, [completed], "COMPLETED")
    await eventually(
        lambda: stage.db.fetchval(
            "SELECT promoted_at IS NOT NULL FROM cleanup.assets_seen WHERE session_id = $1",
            uuid.UUID(completed),
        ),
        lambda promoted: promoted is True,
        timeout_s=60,
    )
    await wait_indexed(stage.db, [cancelled], "CANCELLED")
    await wait_indexed(stage.db, [live], "UPLOADING")
    ids = [uuid.UUID(i) for i in (completed, cancelled, live)]
    await backdate(stage.db, ids)  # the live one too: only a terminal session is ever pruned
    # Inbox rows of commands handled long ago, more than one batch holds.
    await stage.db.execute(
        "INSERT INTO initiation.inbox (message_id, command_type, received_at)"
        " SELECT gen_random_uuid(), 'initiation.cancel', now() - $2::interval"
        " FROM generate_series(1, $1)",
        SYNTHETIC_INBOX_ROWS,
        OLD,
    )
    old_events = await stage.db.fetchval(
        "WITH old AS (UPDATE cleanup.seen_events SET seen_at = now() - $1::interval"
        " WHERE message_id IN (SELECT message_id FROM cleanup.seen_events LIMIT 3)"
        " RETURNING 1) SELECT count(*) FROM old",
        OLD,
    )

    async with cleanup(stage.stack_env) as service:
        view = await service.run(Job.PRUNE_SESSIONS)

    assert view.status == "ok", view.errors
    assert view.stats["initiation_removed"] == 2  # nothing else in the database is that old
    assert view.stats["initiation_inbox_removed"] >= SYNTHETIC_INBOX_ROWS
    assert view.stats["completion_removed"] == 1
    assert view.stats["index_removed"] == 2
    assert view.stats["seen_events_removed"] >= old_events
    left = await stage.db.fetch(
        "SELECT id::text FROM initiation.upload_sessions WHERE id = ANY($1)", ids
    )
    assert [row["id"] for row in left] == [live]
    assert not await stage.db.fetchval(
        "SELECT count(*) FROM initiation.inbox WHERE received_at < now() - interval '30 days'"
    )
    assert not await stage.db.fetchval(
        "SELECT count(*) FROM completion.completions WHERE upload_session_id = $1",
        uuid.UUID(completed),
    )
    indexed = await stage.db.fetch(
        "SELECT session_id::text FROM cleanup.session_index WHERE session_id = ANY($1)", ids
    )
    assert [row["session_id"] for row in indexed] == [live]
    # The Asset is the product: it stays, and a retried completion still answers with it
    # although its saga row and any inbox row are gone.
    retried = await stage.api.post(
        "/app/assets/upload/complete",
        headers=stage.caller.headers,
        json={"upload_session_id": completed},
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["upload_session_id"] == completed
    # A command on a pruned session is refused as unknown: no harm, no resurrection.
    gone = await stage.api.post(f"/app/uploads/{cancelled}/cancel", headers=stage.caller.headers)
    assert gone.status_code == 404, gone.text


async def test_only_cleanup_may_prune_and_ownership_is_answered_within_the_tenant(
    system: System, requests: RequestReplyClient, db: asyncpg.Connection
) -> None:
    if "completion" not in system.processes:
        pytest.skip("needs the completion service")
    user = Principal(user_id="u-1", tenant_id="t-1", brand_ids=("b-1",))
    prune = PruneOlderThan(older_than=datetime.now(UTC), limit=10)
    for topic, command in (
        (topics.INITIATION_SERVICE_COMMANDS, CommandType.PRUNE_TERMINAL_SESSIONS),
        (topics.COMPLETION_SERVICE_COMMANDS, CommandType.PRUNE_COMPLETION_RECORDS),
    ):
        reply = await requests.request(topic, command, prune, principal=user)
        assert reply.error is not None
        assert reply.error.code == ErrorCode.PERMISSION_DENIED

    session_id, asset_id = uuid.uuid4(), uuid.uuid4()
    await own_promotion(db, session_id, "tenant-b", asset_id)
    key = asset_key("tenant-b", asset_id)
    try:
        answers = {}
        for tenant in ("tenant-a", "tenant-b"):
            reply = await requests.request(
                topics.COMPLETION_SERVICE_COMMANDS,
                CommandType.PROMOTING_KEYS,
                PromotingKeys(object_keys=[key]),
                principal=Principal(user_id="system:cleanup", tenant_id=tenant, service="cleanup"),
            )
            answers[tenant] = reply.unwrap(PromotingKeysView).promoting
    finally:
        await db.execute(
            "DELETE FROM completion.completions WHERE upload_session_id = $1", session_id
        )
    assert answers == {"tenant-a": [], "tenant-b": [key]}


async def own_promotion(
    db: asyncpg.Connection, session_id: uuid.UUID, tenant_id: str, asset_id: uuid.UUID
) -> None:
    """A saga mid-promotion whose lease a live worker holds (far in the future, so completion's
    own sweep leaves it alone): completion owns the asset's permanent key."""
    await db.execute(
        "INSERT INTO completion.completions (upload_session_id, tenant_id, asset_id, step,"
        " lease_owner, lease_until) VALUES ($1, $2, $3, 'promoting', $4, $5)",
        session_id,
        tenant_id,
        asset_id,
        uuid.uuid4(),
        FAR_FUTURE,
    )


async def test_orphaned_multipart_aborts_unowned_copies_under_the_permanent_prefix(
    stage: Stage,
) -> None:
    if "completion" not in stage.system.processes:
        pytest.skip("needs the completion service")
    owned_session, owned_asset = uuid.uuid4(), uuid.uuid4()
    keys = {
        "orphan": asset_key(stage.caller.tenant_id, uuid.uuid4()),
        "owned": asset_key(stage.caller.tenant_id, owned_asset),
        "foreign": f"tenants/{stage.caller.tenant_id}/exports/{uuid.uuid4()}.zip",
    }
    uploads = {
        name: str(stage.s3.create_multipart_upload(Bucket=stage.bucket, Key=key)["UploadId"])
        for name, key in keys.items()
    }
    await own_promotion(stage.db, owned_session, stage.caller.tenant_id, owned_asset)
    try:
        async with cleanup(stage.stack_env, INTAKE_ORPHAN_MULTIPART_AFTER_S="0") as service:
            view = await service.run(Job.ORPHANED_MULTIPART)
        remaining = {
            name: any(
                u["UploadId"] == uploads[name]
                for u in stage.s3.list_multipart_uploads(Bucket=stage.bucket, Prefix=key).get(
                    "Uploads", []
                )
            )
            for name, key in keys.items()
        }
    finally:
        await stage.db.execute(
            "DELETE FROM completion.completions WHERE upload_session_id = $1", owned_session
        )
        for name in ("owned", "foreign"):
            stage.s3.abort_multipart_upload(
                Bucket=stage.bucket, Key=keys[name], UploadId=uploads[name]
            )

    assert view.status == "ok", view.errors
    assert remaining == {"orphan": False, "owned": True, "foreign": True}
    assert view.stats["permanent_aborted"] >= 1
    assert view.stats["permanent_owned"] >= 1
    reason = await stage.db.fetchval(
        "SELECT envelope->'payload'->>'reason' FROM cleanup.outbox"
        " WHERE envelope->>'type' = 'cleanup.residue_removed'"
        " AND envelope->'payload'->>'upload_id' = $1",
        uploads["orphan"],
    )
    assert reason == "no_promotion"


@pytest.fixture
async def admin(stack_env: dict[str, str]) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(**stack.kafka_access(stack_env).client_options())
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def test_sweep_deletes_a_dead_instances_reply_topic_and_live_ones_keep_working(
    stage: Stage, admin: AIOKafkaAdminClient
) -> None:
    bootstrap = stack.kafka_access(stage.stack_env)
    # What a killed instance leaves: its reply topic, with nobody in its presence group.
    dead = names.topic(topics.reply_topic("gateway", f"dead-{uuid.uuid4().hex[:8]}"))
    # Another system's dead topic on the same Kafka: never this system's to sweep.
    elsewhere = f"other-{uuid.uuid4().hex[:6]}.{topics.reply_topic('gateway', 'dead')}"
    await kafka.ensure_topics(bootstrap, [dead, elsewhere], partitions=1)
    live_before = {t for t, live in (await reply_topics_liveness(bootstrap)).items() if live}
    assert any(".replies.gateway." in t for t in live_before)  # the running gateway's
    try:
        async with cleanup(stage.stack_env, INTAKE_REPLY_TOPIC_GRACE_S="3600") as service:
            within_grace = await service.run(Job.SWEEP_REPLY_TOPICS)
            present_in_grace = dead in await admin.list_topics()
        async with cleanup(stage.stack_env, INTAKE_REPLY_TOPIC_GRACE_S="0") as service:
            swept = await service.run(Job.SWEEP_REPLY_TOPICS)
        after = set(await admin.list_topics())
    finally:
        await kafka.delete_topic(bootstrap, elsewhere)

    assert within_grace.status == "ok", within_grace.errors
    assert present_in_grace  # first seen unclaimed: it waits out the grace period
    assert swept.status == "ok", swept.errors
    assert swept.stats["deleted"] >= 1
    assert dead not in after
    assert elsewhere in after
    assert live_before <= after  # every live instance keeps its reply topic
    # The gateway's request/reply still works after the sweep.
    session = await initiate(stage.api, stage.caller, 1024)
    answer = await stage.api.get(
        f"/app/uploads/{session['upload_session_id']}", headers=stage.caller.headers
    )
    assert answer.status_code == 200, answer.text
