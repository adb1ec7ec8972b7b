"""Cleanup drains its backlog: a run takes page after page until no candidate is left, and
fails abandoned or expired sessions in bulk, one FailSessions command per page."""

import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from intake_cleanup.domain import Job
from intake_contracts import topics
from intake_contracts.commands import CommandType, FailedSessions, FailSessions, SessionOfTenant
from intake_contracts.envelope import Principal
from intake_runtime.messaging.requests import RequestReplyClient
from tests.conftest import Caller, Stage, System, new_caller
from tests.e2e.test_cleanup import cleanup, initiate_batch, requests, status_of, wait_indexed

pytestmark = pytest.mark.e2e

__all__ = ["requests"]  # the fixture, used by name below
CLEANUP = Principal(user_id="system:cleanup", tenant_id="system", service="cleanup")


async def upload_failed_events(db: asyncpg.Connection, ids: list[str]) -> int:
    """Sessions among `ids` with exactly one upload.failed event in initiation's outbox."""
    return int(
        await db.fetchval(
            "SELECT count(*) FROM (SELECT key FROM initiation.outbox"
            " WHERE envelope->>'type' = 'upload.failed' AND key = ANY($1::text[])"
            " GROUP BY key HAVING count(*) = 1) once",
            ids,
        )
    )


async def test_a_run_drains_more_than_one_batch_failing_each_session_once(stage: Stage) -> None:
    ids = await initiate_batch(stage.api, stage.caller, 25)
    await wait_indexed(stage.db, ids, "UPLOADING")
    cutoff = datetime.now(UTC)

    async with cleanup(
        stage.stack_env,
        clock=lambda: cutoff,
        INTAKE_ABANDONED_AFTER_S="0",
        INTAKE_CLEANUP_BATCH_LIMIT="10",
    ) as service:
        view = await service.run(Job.DETECT_ABANDONED, tenant_id=stage.caller.tenant_id)

    assert view.status == "ok", view.errors
    assert (view.stats["batches"], view.stats["candidates"], view.stats["failed"]) == (3, 25, 25)
    assert {await status_of(stage.api, stage.caller, session_id) for session_id in ids} == {
        "FAILED"
    }
    assert (
        await upload_failed_events(stage.db, ids) == 25
    )  # a lifecycle event per session, once each


async def test_fail_sessions_moves_only_live_sessions_of_the_named_tenant_and_is_idempotent(
    stage: Stage, requests: RequestReplyClient
) -> None:
    mine = await initiate_batch(stage.api, stage.caller, 3)
    other = new_caller()
    theirs = (await initiate_batch(stage.api, other, 1))[0]
    cancelled = await stage.api.post(f"/app/uploads/{mine[2]}/cancel", headers=stage.caller.headers)
    assert cancelled.json()["status"] == "CANCELLED"
    rows = [
        SessionOfTenant(upload_session_id=uuid.UUID(i), tenant_id=stage.caller.tenant_id)
        for i in mine
    ]
    # Another tenant's session named under this tenant: as unknown as a session that is not.
    rows.append(
        SessionOfTenant(upload_session_id=uuid.UUID(theirs), tenant_id=stage.caller.tenant_id)
    )
    command = FailSessions(sessions=rows, reason="abandoned")

    async def send() -> FailedSessions:
        reply = await requests.request(
            topics.INITIATION_SERVICE_COMMANDS,
            CommandType.FAIL_SESSIONS,
            command,
            principal=CLEANUP,
        )
        return reply.unwrap(FailedSessions)

    first, again = await send(), await send()

    assert sorted(map(str, first.moved)) == sorted(mine[:2])
    assert {(str(v.upload_session_id), v.status) for v in first.unchanged} == {
        (mine[2], "CANCELLED")
    }
    assert again.moved == []
    assert {str(v.upload_session_id): v.status for v in again.unchanged} == {
        mine[0]: "FAILED",
        mine[1]: "FAILED",
        mine[2]: "CANCELLED",
    }
    assert await status_of(stage.api, other, theirs) == "UPLOADING"
    assert await upload_failed_events(stage.db, mine[:2]) == 2


async def test_fail_sessions_is_refused_to_a_user(
    system: System, api: httpx.AsyncClient, caller: Caller, requests: RequestReplyClient
) -> None:
    session_id = (await initiate_batch(api, caller, 1))[0]
    user = Principal(user_id="u-1", tenant_id=caller.tenant_id, brand_ids=[caller.brand_id])
    command = FailSessions(
        sessions=[
            SessionOfTenant(upload_session_id=uuid.UUID(session_id), tenant_id=caller.tenant_id)
        ],
        reason="abandoned",
    )
    reply = await requests.request(
        topics.INITIATION_SERVICE_COMMANDS, CommandType.FAIL_SESSIONS, command, principal=user
    )
    assert reply.error is not None
    assert reply.error.code == "permission_denied"
    assert await status_of(api, caller, session_id) == "UPLOADING"
