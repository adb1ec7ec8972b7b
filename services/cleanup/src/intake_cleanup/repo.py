"""SQL of the cleanup schema: named, parameterised, schema-qualified statements, and the
Postgres adapters of the index and job-run ports (ports.py)."""

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TypeAlias
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from intake_cleanup.domain import IndexedSession, Job, RunStatus
from intake_cleanup.ports import Cursor, RunEvents
from intake_contracts.commands import JobRunView
from intake_contracts.envelope import Principal
from intake_contracts.events import UploadLifecycleEvent
from intake_contracts.sessions import LIVE_STATUSES, UploadStatus, sql_list
from intake_runtime.postgres.outbox import Outbox

log = logging.getLogger(__name__)

# Strings: PoolConnectionProxy is generic only in the stubs.
Connection: TypeAlias = "asyncpg.Connection | PoolConnectionProxy[asyncpg.Record]"
Executor: TypeAlias = "asyncpg.Connection | PoolConnectionProxy[asyncpg.Record] | asyncpg.Pool"
_INDEX = "cleanup.session_index"
_ASSETS = "cleanup.assets_seen"
_RUNS = "cleanup.job_runs"
_SELECT = (
    "SELECT s.session_id, s.tenant_id, s.status, s.bucket, s.temp_key, s.multipart_upload_id,"
    " s.expires_at, s.last_event_at, s.active_since, s.asset_id,"
    f" EXISTS (SELECT 1 FROM {_ASSETS} a WHERE a.session_id = s.session_id) AS asset_created,"
    f" EXISTS (SELECT 1 FROM {_ASSETS} a WHERE a.session_id = s.session_id"
    " AND a.promoted_at IS NOT NULL) AS asset_promoted"
    f" FROM {_INDEX} s"
)
_IN_SCOPE = "($3::text IS NULL OR s.tenant_id = $3)"

CLAIM_EVENTS = (
    "INSERT INTO cleanup.seen_events (message_id) SELECT unnest($1::uuid[])"
    " ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
)
# Only forward: a later status wins, an equal one only with a newer event.
UPSERT_SESSION = (
    f"INSERT INTO {_INDEX} AS s (session_id, tenant_id, status, bucket, temp_key,"
    " multipart_upload_id, expires_at, last_event_at, active_since, asset_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)"
    " ON CONFLICT (session_id) DO UPDATE SET status = EXCLUDED.status,"
    " multipart_upload_id = coalesce(EXCLUDED.multipart_upload_id, s.multipart_upload_id),"
    " expires_at = EXCLUDED.expires_at,"
    " last_event_at = greatest(s.last_event_at, EXCLUDED.last_event_at),"
    " active_since = greatest(s.active_since, EXCLUDED.active_since),"
    " asset_id = coalesce(EXCLUDED.asset_id, s.asset_id), updated_at = now()"
    " WHERE cleanup.status_rank(EXCLUDED.status) > cleanup.status_rank(s.status)"
    " OR (cleanup.status_rank(EXCLUDED.status) = cleanup.status_rank(s.status)"
    " AND EXCLUDED.last_event_at >= s.last_event_at)"
)
# Either event may be seen first (a replay, a reconcile's reply): promotion is only ever kept.
RECORD_ASSET = (
    f"INSERT INTO {_ASSETS} AS a (session_id, asset_id, tenant_id, promoted_at)"
    " VALUES ($1, $2, $3, CASE WHEN $4::boolean THEN now() END)"
    " ON CONFLICT (session_id) DO UPDATE SET promoted_at = coalesce(a.promoted_at,"
    " EXCLUDED.promoted_at)"
)
# Each job's candidates page by page, in a key order (keyset after $4/$5): a run drains its
# whole backlog, and a candidate left as it was (initiation does not know it) is passed once.
_AFTER = "($4::timestamptz IS NULL OR ({column}, s.session_id) > ($4, $5::uuid))"
IDLE = (
    f"{_SELECT} WHERE s.status = '{UploadStatus.UPLOADING}' AND s.active_since < $1 AND {_IN_SCOPE}"
    f" AND {_AFTER.format(column='s.active_since')}"
    " ORDER BY s.active_since, s.session_id LIMIT $2"
)
EXPIRED = (
    f"{_SELECT} WHERE s.status IN {sql_list(LIVE_STATUSES)} AND s.expires_at <= $1"
    f" AND {_IN_SCOPE} AND {_AFTER.format(column='s.expires_at')}"
    " ORDER BY s.expires_at, s.session_id LIMIT $2"
)
# COMPLETED without an Asset, or with one still at the temp key.
UNRECONCILED = (
    f"{_SELECT} WHERE s.status = '{UploadStatus.COMPLETED}' AND s.last_event_at <= $1"
    f" AND {_IN_SCOPE}"
    f" AND NOT EXISTS (SELECT 1 FROM {_ASSETS} a WHERE a.session_id = s.session_id"
    " AND a.promoted_at IS NOT NULL)"
    f" AND {_AFTER.format(column='s.last_event_at')}"
    " ORDER BY s.last_event_at, s.session_id LIMIT $2"
)
ADVANCE_MANY = (
    f"UPDATE {_INDEX} s SET status = w.status, updated_at = now()"
    " FROM unnest($1::uuid[], $2::text[]) AS w (session_id, status)"
    " WHERE s.session_id = w.session_id"
    " AND cleanup.status_rank(w.status) > cleanup.status_rank(s.status)"
)
RAISE_ACTIVE_SINCE_MANY = (
    f"UPDATE {_INDEX} SET active_since = greatest(active_since, $2), updated_at = now()"
    " WHERE session_id = ANY($1::uuid[])"
)
BY_IDS = f"{_SELECT} WHERE s.session_id = ANY($1::uuid[])"
TRY_JOB_LOCK = "SELECT pg_try_advisory_lock(hashtext($1))"
JOB_UNLOCK = "SELECT pg_advisory_unlock(hashtext($1))"
START_RUN = (
    f"INSERT INTO {_RUNS} (run_id, job, instance_id, started_at, status, finished_at)"
    " VALUES ($1, $2, $3, $4::timestamptz, $5::text,"
    " CASE WHEN $5::text = 'skipped' THEN $4::timestamptz END)"
)
FINISH_RUN = (
    f"UPDATE {_RUNS} SET status = $2, finished_at = $3, stats = $4, errors = $5 WHERE run_id = $1"
)


def _session(row: asyncpg.Record) -> IndexedSession:
    values = dict(row)
    return IndexedSession(
        id=values.pop("session_id"), status=UploadStatus(values.pop("status")), **values
    )


def _upsert_values(event: UploadLifecycleEvent, occurred_at: datetime) -> tuple[object, ...]:
    return (
        event.upload_session_id,
        event.tenant_id,
        event.status.value,
        event.bucket,
        event.temp_key,
        event.multipart_upload_id,
        event.expires_at,
        occurred_at,
        event.asset_id,
    )


async def _page(
    db: Executor, query: str, bound: datetime, page: tuple[int, str | None, Cursor]
) -> list[IndexedSession]:
    """One page of a job's candidates: page = (limit, tenant scope, cursor)."""
    limit, tenant_id, after = page
    at, session_id = after if after is not None else (None, None)
    return [_session(r) for r in await db.fetch(query, bound, limit, tenant_id, at, session_id)]


async def idle_sessions(
    db: Executor, idle_before: datetime, limit: int, tenant_id: str | None, after: Cursor = None
) -> list[IndexedSession]:
    """UPLOADING and idle since before `idle_before`, by (active_since, id) after `after`."""
    return await _page(db, IDLE, idle_before, (limit, tenant_id, after))


async def expired_sessions(
    db: Executor, now: datetime, limit: int, tenant_id: str | None, after: Cursor = None
) -> list[IndexedSession]:
    """Live and past expiry, ordered by (expires_at, id) after `after`."""
    return await _page(db, EXPIRED, now, (limit, tenant_id, after))


async def unreconciled_sessions(
    db: Executor,
    completed_before: datetime,
    limit: int,
    tenant_id: str | None,
    after: Cursor = None,
) -> list[IndexedSession]:
    """COMPLETED without a promoted asset, ordered by (last_event_at, id) after `after`."""
    return await _page(db, UNRECONCILED, completed_before, (limit, tenant_id, after))


async def advance_statuses(db: Executor, statuses: Sequence[tuple[UUID, UploadStatus]]) -> None:
    """Forward only, many sessions in one statement."""
    if statuses:
        await db.execute(
            ADVANCE_MANY, [sid for sid, _ in statuses], [status.value for _, status in statuses]
        )


async def raise_active_since_many(
    db: Executor, session_ids: Sequence[UUID], active_since: datetime
) -> None:
    if session_ids:
        await db.execute(RAISE_ACTIVE_SINCE_MANY, list(session_ids), active_since)


async def sessions_by_ids(db: Executor, ids: Sequence[UUID]) -> dict[UUID, IndexedSession]:
    rows = await db.fetch(BY_IDS, list(ids))
    return {session.id: session for session in map(_session, rows)}


async def try_job_lock(connection: Connection, job: str) -> bool:
    """Session-level lock held by this connection: one replica runs a job at a time."""
    return bool(await connection.fetchval(TRY_JOB_LOCK, f"cleanup-job:{job}"))


async def job_unlock(connection: Connection, job: str) -> None:
    await connection.fetchval(JOB_UNLOCK, f"cleanup-job:{job}")


class PostgresIndex:
    """The IndexRepository port on a connection (one transaction) or the pool (autocommit)."""

    def __init__(self, db: Executor) -> None:
        self._db = db

    async def idle_sessions(
        self, idle_before: datetime, limit: int, tenant_id: str | None, after: Cursor = None
    ) -> list[IndexedSession]:
        return await idle_sessions(self._db, idle_before, limit, tenant_id, after)

    async def expired_sessions(
        self, now: datetime, limit: int, tenant_id: str | None, after: Cursor = None
    ) -> list[IndexedSession]:
        return await expired_sessions(self._db, now, limit, tenant_id, after)

    async def unreconciled_sessions(
        self, completed_before: datetime, limit: int, tenant_id: str | None, after: Cursor = None
    ) -> list[IndexedSession]:
        return await unreconciled_sessions(self._db, completed_before, limit, tenant_id, after)

    async def advance_statuses(self, statuses: Sequence[tuple[UUID, UploadStatus]]) -> None:
        await advance_statuses(self._db, statuses)

    async def raise_active_since_many(
        self, session_ids: Sequence[UUID], active_since: datetime
    ) -> None:
        await raise_active_since_many(self._db, session_ids, active_since)

    async def sessions_by_ids(self, ids: Sequence[UUID]) -> dict[UUID, IndexedSession]:
        return await sessions_by_ids(self._db, ids)

    async def claim_events(self, message_ids: Sequence[UUID]) -> set[UUID]:
        rows = await self._db.fetch(CLAIM_EVENTS, list(message_ids))
        return {row["message_id"] for row in rows}

    async def upsert_sessions(
        self, events: Sequence[tuple[UploadLifecycleEvent, datetime]]
    ) -> None:
        await self._db.executemany(UPSERT_SESSION, [_upsert_values(*entry) for entry in events])

    async def record_assets(self, assets: Sequence[tuple[UUID, UUID, str, bool]]) -> None:
        await self._db.executemany(RECORD_ASSET, assets)


class PostgresIndexDatabase:
    """The IndexDatabase port over the pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.index = PostgresIndex(pool)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresIndex]:
        async with self._pool.acquire() as connection, connection.transaction():
            yield PostgresIndex(connection)


class PostgresJobRuns:
    """The JobRuns port: a session-level advisory lock per job, and the job_runs rows."""

    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, instance_id: str) -> None:
        self._pool = pool
        self._outbox = outbox
        self._instance_id = instance_id

    @contextlib.asynccontextmanager
    async def lock(self, job: Job) -> AsyncIterator[bool]:
        """On a connection held for the whole run: the lock goes with the connection if the
        process dies, so a crash never blocks a job."""
        async with self._pool.acquire() as connection:
            locked = await try_job_lock(connection, job)
            try:
                yield locked
            finally:
                if locked:
                    await _unlock(connection, job)

    async def start(self, run_id: UUID, job: Job, started_at: datetime, status: RunStatus) -> None:
        await self._pool.execute(START_RUN, run_id, job, self._instance_id, started_at, status)

    async def finish(self, run: JobRunView, events: RunEvents, principal: Principal) -> None:
        """Thousands of residue events go in one insert, with the run's row."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                FINISH_RUN, run.run_id, run.status, run.finished_at, run.stats, run.errors
            )
            await self._outbox.add_many(
                connection, events, correlation_id=str(run.run_id), principal=principal
            )


async def _unlock(connection: Connection, job: str) -> None:
    try:
        await job_unlock(connection, job)
    except Exception:
        # The lock must not outlive the run: drop the connection, and the lock with it.
        log.warning("job unlock failed; closing its connection", extra={"job": job})
        connection.terminate()
