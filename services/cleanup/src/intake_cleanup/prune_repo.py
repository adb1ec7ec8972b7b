"""SQL of cleanup's own pruning: its index, seen events, job runs, unclaimed reply topics;
and its Postgres adapter (the PruneRepository port of ports.py)."""

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import asyncpg

from intake_cleanup.repo import Connection, Executor
from intake_contracts.sessions import TERMINAL_STATUSES, UploadStatus, sql_list

_INDEX = "cleanup.session_index"
_ASSETS = "cleanup.assets_seen"
_UNCLAIMED = "cleanup.unclaimed_reply_topics"

# A COMPLETED session stays until its Asset was seen promoted: reconcile still needs it.
PRUNE_INDEX = (
    f"WITH doomed AS (SELECT s.session_id FROM {_INDEX} s"
    f" WHERE s.status IN {sql_list(TERMINAL_STATUSES)} AND s.updated_at < $1"
    f" AND (s.status <> '{UploadStatus.COMPLETED}' OR EXISTS (SELECT 1 FROM {_ASSETS} a"
    " WHERE a.session_id = s.session_id AND a.promoted_at IS NOT NULL))"
    " ORDER BY s.updated_at LIMIT $2 FOR UPDATE SKIP LOCKED),"
    f" assets AS (DELETE FROM {_ASSETS} WHERE session_id IN (SELECT session_id FROM doomed))"
    f" DELETE FROM {_INDEX} WHERE session_id IN (SELECT session_id FROM doomed)"
)
PRUNE_SEEN = (
    "DELETE FROM cleanup.seen_events WHERE message_id IN (SELECT message_id"
    " FROM cleanup.seen_events WHERE seen_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)"
)
# Finished runs only: a `running` row is a run in progress (or one a crash cut short).
PRUNE_RUNS = (
    "DELETE FROM cleanup.job_runs WHERE run_id IN (SELECT run_id FROM cleanup.job_runs"
    " WHERE started_at < $1 AND status <> 'running' LIMIT $2 FOR UPDATE SKIP LOCKED)"
)
MARK_UNCLAIMED = (
    f"INSERT INTO {_UNCLAIMED} (topic, first_seen) SELECT unnest($1::text[]), $2"
    " ON CONFLICT (topic) DO NOTHING"
)
UNCLAIMED_SINCE = f"SELECT topic, first_seen FROM {_UNCLAIMED} WHERE topic = ANY($1::text[])"
# Topics claimed again, deleted, or gone: forgotten, so a later death starts a new grace.
FORGET_UNCLAIMED = f"DELETE FROM {_UNCLAIMED} WHERE topic <> ALL($1::text[])"
FORGET_DELETED = f"DELETE FROM {_UNCLAIMED} WHERE topic = ANY($1::text[])"


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def prune_index(connection: Connection, older_than: datetime, limit: int) -> int:
    return _count(await connection.execute(PRUNE_INDEX, older_than, limit))


async def prune_seen_events(connection: Connection, older_than: datetime, limit: int) -> int:
    return _count(await connection.execute(PRUNE_SEEN, older_than, limit))


async def prune_job_runs(connection: Connection, older_than: datetime, limit: int) -> int:
    return _count(await connection.execute(PRUNE_RUNS, older_than, limit))


async def unclaimed_since(
    connection: Connection, unclaimed: Sequence[str], now: datetime
) -> dict[str, datetime]:
    """Since when each unclaimed topic has been seen unclaimed (now for a new one); every
    other topic's record is dropped."""
    await connection.execute(FORGET_UNCLAIMED, list(unclaimed))
    await connection.execute(MARK_UNCLAIMED, list(unclaimed), now)
    rows = await connection.fetch(UNCLAIMED_SINCE, list(unclaimed))
    return {row["topic"]: row["first_seen"] for row in rows}


async def forget(db: Executor, deleted: Sequence[str]) -> None:
    await db.execute(FORGET_DELETED, list(deleted))


LocalPrune = Callable[[Connection, datetime, int], Awaitable[int]]


class PostgresPrune:
    """The PruneRepository port: each prune in one short transaction of its own."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def _batch(
        self,
        prune: Callable[[Connection, datetime, int], Awaitable[int]],
        older: datetime,
        limit: int,
    ) -> int:
        async with self._pool.acquire() as connection, connection.transaction():
            return await prune(connection, older, limit)

    async def prune_index(self, older_than: datetime, limit: int) -> int:
        return await self._batch(prune_index, older_than, limit)

    async def prune_seen_events(self, older_than: datetime, limit: int) -> int:
        return await self._batch(prune_seen_events, older_than, limit)

    async def prune_job_runs(self, older_than: datetime, limit: int) -> int:
        return await self._batch(prune_job_runs, older_than, limit)

    async def unclaimed_since(self, unclaimed: Sequence[str], now: datetime) -> dict[str, datetime]:
        async with self._pool.acquire() as connection, connection.transaction():
            return await unclaimed_since(connection, unclaimed, now)

    async def forget(self, deleted: Sequence[str]) -> None:
        await forget(self._pool, deleted)
