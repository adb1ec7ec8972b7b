"""Cleanup end to end: the real stack, the services as processes, jobs run in-process with
test thresholds (the service under `system` runs with its defaults and the schedule off)."""

import asyncio
import contextlib
import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from intake_cleanup import repo
from intake_cleanup.app import open_service
from intake_cleanup.domain import Job
from intake_cleanup.service import CleanupService
from intake_cleanup.settings import CleanupSettings
from intake_contracts import topics
from intake_contracts.commands import CommandType, JobRunView, MarkCompleted, RunCleanupJob
from intake_contracts.envelope import Principal
from intake_contracts.errors import ErrorCode
from intake_contracts.keys import TEMP_PREFIX, asset_id_for, temp_key
from intake_runtime.messaging import acls
from intake_runtime.messaging.requests import RequestReplyClient
from intake_runtime.ports import utc_now
from intake_runtime.settings import S3Settings
from intake_runtime.storage.s3 import open_object_store
from tests.conftest import Caller, Stage, System
from tests.support import metrics, stack, tokens
from tests.support.api import initiate, upload_and_complete
from tests.support.commands import request_client
from tests.support.saga import saga_done
from tests.support.storage import exists
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
OPERATOR = Principal(user_id="test:operator", tenant_id="system", service="tests")


def cleanup_settings(stack_env: dict[str, str], **aliases: str) -> CleanupSettings:
    return CleanupSettings.model_validate(
        {**stack_env, "INTAKE_CLEANUP_SCHEDULE": "off", **aliases}
    )


@contextlib.asynccontextmanager
async def cleanup(
    stack_env: dict[str, str], clock: Callable[[], datetime] | None = None, **aliases: str
) -> AsyncIterator[CleanupService]:
    """The cleanup service in this process, with the thresholds a test needs."""
    settings = cleanup_settings(stack_env, **aliases)
    async with open_service(settings, clock=clock or utc_now) as (service, _):
        yield service


@pytest.fixture
async def requests(stack_env: dict[str, str]) -> AsyncIterator[RequestReplyClient]:
    """Commands to initiation and completion as cleanup sends them (they answer cleanup)."""
    async with request_client(stack_env, "cleanup", timeout_s=60) as client:
        yield client


@pytest.fixture
async def operator(stack_env: dict[str, str]) -> AsyncIterator[RequestReplyClient]:
    """A job run asked of cleanup, as an operator asks (cleanup answers only `ops`)."""
    async with request_client(stack_env, acls.OPS, timeout_s=60) as client:
        yield client


async def run_via_command(client: RequestReplyClient, job: str) -> JobRunView:
    reply = await client.request(
        topics.CLEANUP_COMMANDS,
        CommandType.RUN_CLEANUP_JOB,
        RunCleanupJob(job=job),
        principal=OPERATOR,
    )
    return reply.unwrap(JobRunView)


async def initiate_batch(api: httpx.AsyncClient, caller: Caller, count: int) -> list[str]:
    files = [
        {
            "file_name": f"f{i}.bin",
            "file_size": 6 * MiB,
            "mime_type": "application/octet-stream",
            "client_reference": str(i),
        }
        for i in range(count)
    ]
    answer = await api.post(
        "/app/uploads/initiate-batch",
        headers=caller.headers,
        json={"brand_id": caller.brand_id, "files": files},
    )
    assert answer.status_code == 200, answer.text
    uploads = answer.json()["uploads"]
    assert all(u["ok"] for u in uploads), uploads
    return [u["upload_session_id"] for u in uploads]


async def status_of(api: httpx.AsyncClient, caller: Caller, session_id: str) -> str:
    answer = await api.get(f"/app/uploads/{session_id}", headers=caller.headers)
    return str(answer.json().get("status"))


async def wait_indexed(db: asyncpg.Connection, ids: list[str], status: str) -> None:
    """The cleanup service has consumed these sessions' lifecycle events."""
    uuids = [uuid.UUID(i) for i in ids]

    async def indexed() -> int:
        return int(
            await db.fetchval(
                "SELECT count(*) FROM cleanup.session_index WHERE session_id = ANY($1) AND status = $2",
                uuids,
                status,
            )
        )

    await eventually(indexed, lambda n: n == len(ids), timeout_s=60)


async def live_uploads(stack_env: dict[str, str]) -> set[str]:
    """Upload ids still in progress under the temp prefix, every page."""
    settings = S3Settings.model_validate(stack_env)
    async with open_object_store(settings) as store:
        return {
            u.upload_id
            async for page in store.iter_multipart_uploads(settings.aws_bucket, TEMP_PREFIX)
            for u in page
        }


def stack_command(command: str) -> None:
    argv = ["bash", str(stack.STACK), command]
    done = subprocess.run(argv, check=False, capture_output=True, text=True)
    assert done.returncode == 0, f"stack.sh {command}: {done.stdout}{done.stderr}"


async def test_orphaned_multipart_aborts_exactly_the_orphans_across_pages(stage: Stage) -> None:
    live_ids = [sid for _ in range(3) for sid in await initiate_batch(stage.api, stage.caller, 100)]

    def create_orphan(_: int) -> str:
        answer = stage.s3.create_multipart_upload(Bucket=stage.bucket, Key=temp_key(uuid.uuid4()))
        return str(answer["UploadId"])

    with ThreadPoolExecutor(10) as pool:
        orphans = set(
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: list(pool.map(create_orphan, range(1200)))
            )
        )
    await wait_indexed(stage.db, live_ids, "UPLOADING")
    rows = await stage.db.fetch(
        "SELECT multipart_upload_id FROM cleanup.session_index WHERE session_id = ANY($1)",
        [uuid.UUID(i) for i in live_ids],
    )
    live = {row["multipart_upload_id"] for row in rows}
    assert len(live) == 300

    async with cleanup(stage.stack_env, INTAKE_ORPHAN_MULTIPART_AFTER_S="0") as service:
        view = await service.run(Job.ORPHANED_MULTIPART)

    assert view.status == "ok", view.errors
    assert view.stats["listed"] >= 1500
    assert view.stats["aborted"] >= 1200
    remaining = await live_uploads(stage.stack_env)
    assert not orphans & remaining
    assert live <= remaining
    removed = await stage.db.fetchval(
        "SELECT count(*) FROM cleanup.outbox WHERE envelope->>'type' = 'cleanup.residue_removed'"
        " AND envelope->'payload'->>'upload_id' = ANY($1)",
        list(orphans),
    )
    assert removed == 1200


async def test_orphaned_temp_objects_removes_only_terminal_and_unknown(stage: Stage) -> None:
    live = await initiate(stage.api, stage.caller, 1024)
    cancelled = await initiate(stage.api, stage.caller, 1024)
    cancel = await stage.api.post(
        f"/app/uploads/{cancelled['upload_session_id']}/cancel", headers=stage.caller.headers
    )
    assert cancel.status_code == 200
    keys = {
        "live": temp_key(uuid.UUID(live["upload_session_id"])),
        # A late PUT through a URL signed before the cancel leaves this behind.
        "cancelled": temp_key(uuid.UUID(cancelled["upload_session_id"])),
        "unknown": temp_key(uuid.uuid4()),
        "outside": f"{TEMP_PREFIX}{uuid.uuid4()}/notes.txt",
    }
    for key in keys.values():
        stage.s3.put_object(Bucket=stage.bucket, Key=key, Body=b"x" * 1024)
    await wait_indexed(stage.db, [live["upload_session_id"]], "UPLOADING")
    await wait_indexed(stage.db, [cancelled["upload_session_id"]], "CANCELLED")

    async with cleanup(stage.stack_env, INTAKE_ORPHAN_TEMP_AFTER_S="0") as service:
        view = await service.run(Job.ORPHANED_TEMP_OBJECTS)

    assert view.status == "ok", view.errors
    present = {name: exists(stage.s3, stage.bucket, key) for name, key in keys.items()}
    assert present == {"live": True, "cancelled": False, "unknown": False, "outside": True}
    stage.s3.delete_object(Bucket=stage.bucket, Key=keys["outside"])
    stage.s3.delete_object(Bucket=stage.bucket, Key=keys["live"])


async def test_completed_and_promoted_leftover_is_removed(stage: Stage) -> None:
    if "completion" not in stage.system.processes:
        pytest.skip("needs the completion service")
    session_id = await upload_and_complete(stage.api, stage.caller, b"y" * 1024)
    key = temp_key(uuid.UUID(session_id))
    # Cleanup's index has seen both the completion (session.completed) and the promotion
    # (asset.promoted); they travel on different topics, so either may arrive first.
    await eventually(
        lambda: stage.db.fetchval(
            "SELECT count(*) FROM cleanup.assets_seen WHERE session_id = $1"
            " AND promoted_at IS NOT NULL",
            uuid.UUID(session_id),
        ),
        lambda n: n == 1,
        timeout_s=60,
    )
    await wait_indexed(stage.db, [session_id], "COMPLETED")
    await saga_done(stage.db, session_id)
    stage.s3.put_object(Bucket=stage.bucket, Key=key, Body=b"stray")  # a leftover after promotion

    async with cleanup(stage.stack_env, INTAKE_ORPHAN_TEMP_AFTER_S="0") as service:
        view = await service.run(Job.ORPHANED_TEMP_OBJECTS)

    assert view.status == "ok", view.errors
    assert not exists(stage.s3, stage.bucket, key)


async def test_abandoned_fails_the_idle_session_but_not_the_one_that_resumed(stage: Stage) -> None:
    idle = (await initiate(stage.api, stage.caller, 6 * MiB))["upload_session_id"]
    resumed = (await initiate(stage.api, stage.caller, 6 * MiB))["upload_session_id"]
    await wait_indexed(stage.db, [idle, resumed], "UPLOADING")
    # The job's cutoff is fixed first; the client comes back after it, before the CAS runs:
    # both are candidates in the index, and initiation's compare-and-set tells them apart.
    cutoff = datetime.now(UTC)
    touched = await stage.api.put(f"/app/uploads/{resumed}/activity", headers=stage.caller.headers)
    assert touched.status_code == 200

    async with cleanup(
        stage.stack_env, clock=lambda: cutoff, INTAKE_ABANDONED_AFTER_S="0"
    ) as service:
        view = await service.run(Job.DETECT_ABANDONED, tenant_id=stage.caller.tenant_id)

    assert view.status == "ok", view.errors
    assert (view.stats["candidates"], view.stats["failed"], view.stats["still_active"]) == (2, 1, 1)
    assert await status_of(stage.api, stage.caller, idle) == "FAILED"
    assert await status_of(stage.api, stage.caller, resumed) == "UPLOADING"
    active_since = await stage.db.fetchval(
        "SELECT active_since FROM cleanup.session_index WHERE session_id = $1", uuid.UUID(resumed)
    )
    assert active_since == cutoff
    await wait_indexed(stage.db, [idle], "FAILED")


async def test_expired_session_is_failed_and_its_upload_aborted(stage: Stage) -> None:
    session = await initiate(stage.api, stage.caller, 6 * MiB)
    session_id, upload_id = session["upload_session_id"], session["multipart"]["upload_id"]
    await wait_indexed(stage.db, [session_id], "UPLOADING")
    later = datetime.now(UTC) + timedelta(hours=25)  # past the 24 h session lifetime

    async with cleanup(stage.stack_env, clock=lambda: later) as service:
        view = await service.run(Job.EXPIRE_SESSIONS, tenant_id=stage.caller.tenant_id)

    assert view.status == "ok", view.errors
    assert (view.stats["candidates"], view.stats["failed"]) == (1, 1)
    answer = await stage.api.get(f"/app/uploads/{session_id}", headers=stage.caller.headers)
    assert answer.json()["status"] == "FAILED"
    assert upload_id not in await live_uploads(stage.stack_env)


async def test_s3_outage_is_recorded_and_the_next_run_finishes_the_work(
    stage: Stage, operator: RequestReplyClient
) -> None:
    orphan = temp_key(uuid.uuid4())
    stage.s3.put_object(Bucket=stage.bucket, Key=orphan, Body=b"z")
    async with cleanup(stage.stack_env, INTAKE_ORPHAN_TEMP_AFTER_S="0") as service:
        stack_command("stop-s3")
        try:
            down = await service.run(Job.ORPHANED_TEMP_OBJECTS)
            via_service = await run_via_command(operator, Job.ORPHANED_MULTIPART)
            health = httpx.get(stage.system.processes["cleanup"].url("/healthz"), timeout=5)
        finally:
            stack_command("start-s3")
        again = await service.run(Job.ORPHANED_TEMP_OBJECTS)

    assert down.status == "failed"
    assert down.errors
    assert "S3" in down.errors[0] or "storage" in down.errors[0].lower()
    row = await stage.db.fetchrow(
        "SELECT status, errors FROM cleanup.job_runs WHERE run_id = $1", down.run_id
    )
    assert row is not None
    assert row["status"] == "failed"
    assert json.loads(row["errors"]) == down.errors  # this connection has no jsonb codec
    assert via_service.status == "failed"
    assert health.status_code == 200
    assert again.status == "ok", again.errors
    assert not exists(stage.s3, stage.bucket, orphan)


async def test_a_job_runs_on_one_replica_at_a_time(
    system: System,
    db: asyncpg.Connection,
    stack_env: dict[str, str],
    operator: RequestReplyClient,
) -> None:
    # This connection plays the replica in the middle of the run, with the very lock it takes.
    assert await repo.try_job_lock(db, Job.RECONCILE)
    try:
        skipped = await run_via_command(operator, Job.RECONCILE)
        async with cleanup(stack_env) as service:
            also_skipped = await service.run(Job.RECONCILE)
    finally:
        await repo.job_unlock(db, Job.RECONCILE)
    after = await run_via_command(operator, Job.RECONCILE)

    assert (skipped.status, also_skipped.status) == ("skipped", "skipped")
    # Once released the job runs; whether it succeeds depends on the shared data (reconcile
    # may find sessions of other tests while no completion service answers).
    assert after.status in {"ok", "failed"}
    statuses = await db.fetch(
        "SELECT run_id, status FROM cleanup.job_runs WHERE run_id = ANY($1)",
        [skipped.run_id, also_skipped.run_id, after.run_id],
    )
    assert sorted(r["status"] for r in statuses) == sorted(["skipped", "skipped", after.status])


async def test_two_concurrent_runs_neither_both_skip_nor_fail(
    system: System, stack_env: dict[str, str]
) -> None:
    async with (
        cleanup(stack_env) as first,
        cleanup(stack_env) as second,
    ):
        views = await asyncio.gather(
            first.run(Job.ORPHANED_MULTIPART), second.run(Job.ORPHANED_MULTIPART)
        )
    statuses = sorted(view.status for view in views)
    # Whether two runs overlap is the scheduler's to decide: overlapping, one is skipped; not
    # overlapping, both run. The skip itself is proven, lock held, by
    # test_a_job_runs_on_one_replica_at_a_time.
    assert statuses in (["ok", "skipped"], ["ok", "ok"])


async def test_run_completed_is_published_and_unknown_jobs_are_refused(
    system: System,
    db: asyncpg.Connection,
    operator: RequestReplyClient,
) -> None:
    view = await run_via_command(operator, Job.EXPIRE_SESSIONS)
    assert view.status == "ok"

    async def published() -> Any:
        return await db.fetchval(
            "SELECT published_at FROM cleanup.outbox WHERE key = $1"
            " AND envelope->>'type' = 'cleanup.run_completed'",
            str(view.run_id),
        )

    await eventually(published, lambda at: at is not None)
    reply = await operator.request(
        topics.CLEANUP_COMMANDS,
        CommandType.RUN_CLEANUP_JOB,
        RunCleanupJob(job="vacuum"),
        principal=OPERATOR,
    )
    assert reply.error is not None
    assert reply.error.code == ErrorCode.UNKNOWN_JOB


async def test_a_run_shows_on_the_metrics_with_its_status_duration_and_counts(
    stage: Stage, operator: RequestReplyClient
) -> None:
    for _ in range(2):  # at least two uploads for the job to list
        stage.s3.create_multipart_upload(Bucket=stage.bucket, Key=temp_key(uuid.uuid4()))
    endpoint = stage.system.processes["cleanup"].url("/metrics")
    job = Job.ORPHANED_MULTIPART
    since = datetime.now(UTC)
    before = await metrics.samples(endpoint)

    view = await run_via_command(operator, job)

    after = await metrics.samples(endpoint)
    # Commands are delivered at least once: a rebalance may run the job again (or skip it on
    # the lock), and job_runs records each run the metrics count.
    runs = await stage.db.fetch(
        "SELECT run_id, status, started_at, finished_at, stats FROM cleanup.job_runs"
        " WHERE job = $1 AND started_at >= $2",
        job,
        since,
    )

    def delta(name: str, **labels: str) -> float:
        return metrics.value(after, name, job=job, **labels) - metrics.value(
            before, name, job=job, **labels
        )

    def stats_of(row: Any) -> dict[str, int]:
        stats = row["stats"]
        return dict(json.loads(stats) if isinstance(stats, str) else stats or {})

    assert view.status == "ok", view.errors
    assert view.stats["listed"] >= 2
    assert view.run_id in {row["run_id"] for row in runs}
    for status in ("ok", "failed", "skipped"):
        count = sum(row["status"] == status for row in runs)
        assert delta("intake_cleanup_job_runs_total", status=status) == count
    assert delta("intake_cleanup_job_duration_seconds_count") == len(runs)
    assert delta("intake_cleanup_job_duration_seconds_sum") == pytest.approx(
        sum((row["finished_at"] - row["started_at"]).total_seconds() for row in runs)
    )
    for stat in view.stats:
        total = sum(stats_of(row).get(stat, 0) for row in runs)
        assert delta("intake_cleanup_job_items_total", stat=stat) == total


def test_command_line_runs_a_job_once_and_refuses_an_unknown_one(
    system: System, stack_env: dict[str, str]
) -> None:
    binary = str(stack.ROOT / ".venv" / "bin" / "intake-cleanup")
    env = {**system.processes["cleanup"].env, "INTAKE_METRICS_PORT": "0"}
    ran = subprocess.run(
        [binary, "run", "detect-abandoned"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    summary = JobRunView.model_validate_json(ran.stdout)
    assert summary.job == "detect-abandoned"
    assert summary.status in {"ok", "failed"}
    bad = subprocess.run(
        [binary, "run", "vacuum"], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert bad.returncode == 2
    assert "unknown job" in bad.stderr


async def test_command_line_limits_a_session_job_to_one_tenant(stage: Stage) -> None:
    ids = await initiate_batch(stage.api, stage.caller, 1)
    await wait_indexed(stage.db, ids, "UPLOADING")
    binary = str(stack.ROOT / ".venv" / "bin" / "intake-cleanup")
    # Every idle session is abandoned at once: only the scope keeps the caller's alive.
    env = {
        **stage.system.processes["cleanup"].env,
        "INTAKE_METRICS_PORT": "0",
        "INTAKE_ABANDONED_AFTER_S": "0",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, "run", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    scoped = run("detect-abandoned", "--tenant", tokens.new_tenant())
    storage = run("orphaned-temp-objects", "--tenant", stage.caller.tenant_id)

    assert scoped.returncode == 0, scoped.stderr[-2000:]
    assert JobRunView.model_validate_json(scoped.stdout).stats.get("candidates", 0) == 0
    assert await status_of(stage.api, stage.caller, ids[0]) == "UPLOADING"
    assert storage.returncode == 2
    assert "cannot be limited to a tenant" in storage.stderr


async def test_reconcile_completes_a_session_left_without_its_asset(
    stage: Stage, requests: RequestReplyClient
) -> None:
    session = await initiate(stage.api, stage.caller, 1000)
    session_id = session["upload_session_id"]
    direct = session["direct"]
    async with httpx.AsyncClient() as storage:
        put = await storage.put(direct["url"], content=b"r" * 1000, headers=direct["headers"])
    assert put.status_code == 200
    # What a completion that crashed right after MarkCompleted leaves: COMPLETED, no Asset.
    asset_id = asset_id_for(uuid.UUID(session_id))
    marked = await requests.request(
        topics.INITIATION_SERVICE_COMMANDS,
        CommandType.MARK_COMPLETED,
        MarkCompleted(upload_session_id=uuid.UUID(session_id), asset_id=asset_id),
        principal=Principal(
            user_id="test:crashed-completion", tenant_id=stage.caller.tenant_id, service="tests"
        ),
    )
    assert marked.ok, marked.error
    await wait_indexed(stage.db, [session_id], "COMPLETED")
    assert (
        await stage.db.fetchval(
            "SELECT count(*) FROM completion.assets WHERE asset_id = $1", asset_id
        )
        == 0
    )

    async with cleanup(stage.stack_env, INTAKE_RECONCILE_AFTER_S="0") as service:
        view = await service.run(Job.RECONCILE, tenant_id=stage.caller.tenant_id)

    assert view.status == "ok", view.errors
    # Completion answered once the Asset was recorded; it promotes the object right after.
    await saga_done(stage.db, session_id)
    row = await stage.db.fetchrow(
        "SELECT object_key, size_bytes FROM completion.assets WHERE asset_id = $1", asset_id
    )
    assert row is not None
    assert row["size_bytes"] == 1000
    assert (
        stage.s3.get_object(Bucket=stage.bucket, Key=row["object_key"])["Body"].read()
        == b"r" * 1000
    )
    assert not exists(stage.s3, stage.bucket, temp_key(uuid.UUID(session_id)))
