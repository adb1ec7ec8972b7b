"""SQL of the completion schema: named, parameterised, schema-qualified statements, and the
Postgres adapters of the saga's ports (ports.py)."""

import contextlib
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import TypeAlias
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from intake_completion import saga
from intake_completion.domain import Asset
from intake_completion.saga import Attempt, Step
from intake_contracts.envelope import Principal
from intake_contracts.events import AssetCreated, EventType
from intake_runtime.postgres.outbox import BoundOutbox, Outbox, columns

_TABLE = "completion.assets"
_COLUMNS = ", ".join(Asset.model_fields)
_WRITTEN = [
    name
    for name in Asset.model_fields
    if name not in {"created_at", "promoted_at", "integrity_failed_at"}
]
_SAGA = "completion.completions"
_ATTEMPT = "upload_session_id, tenant_id, asset_id, step, lease_owner, lease_until, tries"

# Strings: PoolConnectionProxy is generic only in the stubs.
Connection: TypeAlias = "asyncpg.Connection | PoolConnectionProxy[asyncpg.Record]"
Executor: TypeAlias = "asyncpg.Connection | PoolConnectionProxy[asyncpg.Record] | asyncpg.Pool"

BY_SESSION = f"SELECT {_COLUMNS} FROM {_TABLE} WHERE upload_session_id = $1 AND tenant_id = $2"
BY_SESSION_ANY_TENANT = f"SELECT {_COLUMNS} FROM {_TABLE} WHERE upload_session_id = $1"
INSERT = (
    f"INSERT INTO {_TABLE} ({', '.join(_WRITTEN)})"
    f" VALUES ({', '.join(f'${n}' for n in range(1, len(_WRITTEN) + 1))})"
    f" ON CONFLICT (upload_session_id) DO NOTHING RETURNING {_COLUMNS}"
)
# The compare-and-set that makes `asset.promoted` happen once: only an unpromoted Asset moves.
MARK_PROMOTED = (
    f"UPDATE {_TABLE} SET object_key = $2, promoted_at = now()"
    f" WHERE upload_session_id = $1 AND promoted_at IS NULL RETURNING {_COLUMNS}"
)
# Once: an Asset already promoted (or already failed) keeps what it has.
MARK_INTEGRITY_FAILED = (
    f"UPDATE {_TABLE} SET integrity_failed_at = now() WHERE upload_session_id = $1"
    f" AND promoted_at IS NULL AND integrity_failed_at IS NULL RETURNING {_COLUMNS}"
)

ATTEMPT = f"SELECT {_ATTEMPT} FROM {_SAGA} WHERE upload_session_id = $1"
# What `complete` reads first, in one read, not two: the caller's Asset (all columns NULL when it
# has none) and whether a saga of another tenant holds the session.
ASSET_AND_FOREIGN_SAGA = (
    f"SELECT {', '.join(f'asset.{column}' for column in Asset.model_fields)},"
    f" EXISTS (SELECT 1 FROM {_SAGA} WHERE upload_session_id = $1 AND tenant_id <> $2)"
    f" AS foreign_saga FROM (VALUES (1)) AS one (x) LEFT JOIN {_TABLE} AS asset"
    " ON asset.upload_session_id = $1 AND asset.tenant_id = $2"
)
OPEN_ATTEMPT = (
    f"INSERT INTO {_SAGA} (upload_session_id, tenant_id, asset_id, step)"
    " VALUES ($1, $2, $3, 'finalizing') ON CONFLICT (upload_session_id) DO NOTHING"
)
# Held only for the claim's own short transaction: claims of one tenant count one at a time.
LOCK_TENANT = "SELECT pg_advisory_xact_lock(hashtext('completion-tenant:' || $1))"
RUNNING_IN_TENANT = (
    f"SELECT count(*) FROM {_SAGA} WHERE tenant_id = $1 AND step = 'finalizing'"
    " AND lease_until > now() AND upload_session_id <> $2"
)
CLAIM = (
    f"UPDATE {_SAGA} SET lease_owner = $3, lease_until = now() + make_interval(secs => $4),"
    " tries = tries + 1, updated_at = now()"
    " WHERE upload_session_id = $1 AND step = ANY($2::text[])"
    " AND (lease_until IS NULL OR lease_until <= now())"
    f" RETURNING {_ATTEMPT}"
)
# open_attempt, the running count and the claim of finalizing in one statement (the tenant
# lock taken before it, so the count's snapshot follows the lock): the upsert claims a new
# row or a finalizing one whose lease is free, and returns nothing otherwise.
OPEN_AND_CLAIM = (
    f"WITH claimed AS (INSERT INTO {_SAGA} AS saga"
    " (upload_session_id, tenant_id, asset_id, step, lease_owner, lease_until, tries)"
    f" VALUES ($1, $2, $3, '{Step.FINALIZING}', $4, now() + make_interval(secs => $5), 1)"
    " ON CONFLICT (upload_session_id) DO UPDATE SET lease_owner = EXCLUDED.lease_owner,"
    " lease_until = EXCLUDED.lease_until, tries = saga.tries + 1, updated_at = now()"
    f" WHERE saga.step = '{Step.FINALIZING}'"
    " AND (saga.lease_until IS NULL OR saga.lease_until <= now())"
    f" RETURNING {', '.join(f'saga.{column}' for column in _ATTEMPT.split(', '))})"
    f" SELECT claimed.*, (SELECT count(*) FROM {_SAGA} WHERE tenant_id = $2"
    f" AND step = '{Step.FINALIZING}' AND lease_until > now() AND upload_session_id <> $1)"
    " AS running FROM claimed"
)
RENEW = (
    f"UPDATE {_SAGA} SET lease_until = now() + make_interval(secs => $3)"
    " WHERE upload_session_id = $1 AND lease_owner = $2"
)
ADVANCE = (
    f"UPDATE {_SAGA} SET step = $3, last_error = NULL, updated_at = now(),"
    " lease_owner = CASE WHEN $5 THEN NULL ELSE lease_owner END,"
    " lease_until = CASE WHEN $5 THEN NULL ELSE lease_until END"
    " WHERE upload_session_id = $1 AND step = $2 AND lease_owner = $4"
)
# A lease with no owner until a time ahead: nobody may claim the step before then.
RELEASE = (
    f"UPDATE {_SAGA} SET lease_owner = NULL, last_error = $3, updated_at = now(),"
    " lease_until = CASE WHEN $4 > 0 THEN now() + make_interval(secs => $4) END"
    " WHERE upload_session_id = $1 AND lease_owner = $2"
)
# The saga ends at once from `current` (an Asset failing integrity has nothing left to do).
END = (
    f"UPDATE {_SAGA} SET step = '{Step.DONE}', last_error = $4, updated_at = now(),"
    " lease_owner = NULL, lease_until = NULL"
    " WHERE upload_session_id = $1 AND step = $2 AND lease_owner = $3"
)
DUE = (
    f"SELECT upload_session_id FROM {_SAGA} WHERE step IN ('promoting', 'releasing')"
    " AND (lease_until IS NULL OR lease_until <= now()) ORDER BY updated_at LIMIT $1"
)
# Finished sagas only: a retry of `complete` answers from the Asset, which stays.
PRUNE_DONE = (
    f"DELETE FROM {_SAGA} WHERE upload_session_id IN (SELECT upload_session_id FROM {_SAGA}"
    " WHERE step = 'done' AND updated_at < $1 ORDER BY updated_at LIMIT $2"
    " FOR UPDATE SKIP LOCKED)"
)
# A saga not yet done will still copy to its asset's key (and aborts stale uploads there).
PROMOTING = (
    f"SELECT asset_id FROM {_SAGA} WHERE tenant_id = $1 AND asset_id = ANY($2::uuid[])"
    " AND step <> 'done'"
)


# The Asset, its asset.created event and the saga's move past finalizing in one statement
# (no BEGIN and COMMIT: one round trip where a transaction took five). Nothing is written
# unless `owner` still holds finalizing: the insert reads the saga's compare-and-set. The
# owner keeps the lease of the next step, renewed for $3 seconds: it hands it to the promoter.
_RECORD_PARAMETERS = 3
_RECORD_BEFORE = (
    f"moved AS (UPDATE {_SAGA} SET step = '{saga.next_step(Step.FINALIZING)}',"
    " last_error = NULL, updated_at = now(), lease_until = now() + make_interval(secs => $3)"
    f" WHERE upload_session_id = $1 AND step = '{Step.FINALIZING}' AND lease_owner = $2"
    " RETURNING upload_session_id),"
    f" inserted AS (INSERT INTO {_TABLE} ({', '.join(_WRITTEN)})"
    " SELECT"
    f" {', '.join(f'${n + _RECORD_PARAMETERS}' for n in range(1, len(_WRITTEN) + 1))}"
    f" FROM moved ON CONFLICT (upload_session_id) DO NOTHING RETURNING {_COLUMNS}),"
)


def _asset(row: asyncpg.Record | None) -> Asset | None:
    if row is None:
        return None
    values = dict(row)
    values.pop("notified", None)
    return Asset(**values)


def _attempt(row: asyncpg.Record | None) -> Attempt | None:
    if row is None:
        return None
    values = dict(row)
    return Attempt(step=Step(values.pop("step")), **values)


class PostgresSaga:
    """The SagaRepository port on a connection (one transaction) or the pool (autocommit)."""

    def __init__(self, db: Executor) -> None:
        self._db = db

    async def asset(self, session_id: UUID, tenant_id: str) -> Asset | None:
        return _asset(await self._db.fetchrow(BY_SESSION, session_id, tenant_id))

    async def asset_of(self, session_id: UUID) -> Asset | None:
        return _asset(await self._db.fetchrow(BY_SESSION_ANY_TENANT, session_id))

    async def asset_and_foreign_saga(
        self, session_id: UUID, tenant_id: str
    ) -> tuple[Asset | None, bool]:
        row = await self._db.fetchrow(ASSET_AND_FOREIGN_SAGA, session_id, tenant_id)
        if row is None:  # the query always returns its one row; typed as optional
            return None, False
        values = dict(row)
        foreign = bool(values.pop("foreign_saga"))
        return (None if values["upload_session_id"] is None else Asset(**values)), foreign

    async def insert_asset(self, asset: Asset) -> Asset | None:
        values = [getattr(asset, name) for name in _WRITTEN]
        return _asset(await self._db.fetchrow(INSERT, *values))

    async def mark_promoted(self, session_id: UUID, object_key: str) -> Asset | None:
        return _asset(await self._db.fetchrow(MARK_PROMOTED, session_id, object_key))

    async def mark_integrity_failed(self, session_id: UUID) -> Asset | None:
        return _asset(await self._db.fetchrow(MARK_INTEGRITY_FAILED, session_id))

    async def end(self, session_id: UUID, current: Step, owner: UUID, reason: str) -> bool:
        status = await self._db.execute(END, session_id, str(current), owner, reason)
        return bool(status == "UPDATE 1")

    async def attempt(self, session_id: UUID) -> Attempt | None:
        return _attempt(await self._db.fetchrow(ATTEMPT, session_id))

    async def open_attempt(self, session_id: UUID, tenant_id: str, asset_id: UUID) -> None:
        await self._db.execute(OPEN_ATTEMPT, session_id, tenant_id, asset_id)

    async def open_and_claim(
        self, session_id: UUID, tenant_id: str, asset_id: UUID, owner: UUID, lease_s: float
    ) -> tuple[Attempt | None, int]:
        row = await self._db.fetchrow(
            OPEN_AND_CLAIM, session_id, tenant_id, asset_id, owner, lease_s
        )
        if row is None:
            return None, 0
        values = dict(row)
        running = int(values.pop("running"))
        return Attempt(step=Step(values.pop("step")), **values), running

    async def lock_tenant(self, tenant_id: str) -> None:
        await self._db.execute(LOCK_TENANT, tenant_id)

    async def running_in_tenant(self, tenant_id: str, session_id: UUID) -> int:
        return int(await self._db.fetchval(RUNNING_IN_TENANT, tenant_id, session_id))

    async def advance(self, session_id: UUID, current: Step, owner: UUID, *, release: bool) -> bool:
        target = saga.next_step(current)
        status = await self._db.execute(
            ADVANCE, session_id, str(current), str(target), owner, release
        )
        return bool(status == "UPDATE 1")

    async def due(self, limit: int) -> list[UUID]:
        return [row[0] for row in await self._db.fetch(DUE, limit)]


class PostgresLeases:
    """The SagaLeases port: every lease time is the database's now()."""

    def __init__(self, db: Executor) -> None:
        self._db = db

    async def claim(
        self, session_id: UUID, steps: Iterable[Step], owner: UUID, lease_s: float
    ) -> Attempt | None:
        names = [str(step) for step in steps]
        return _attempt(await self._db.fetchrow(CLAIM, session_id, names, owner, lease_s))

    async def renew(self, session_id: UUID, owner: UUID, lease_s: float) -> None:
        await self._db.execute(RENEW, session_id, owner, lease_s)

    async def release(
        self, session_id: UUID, owner: UUID, error: str | None, retry_in_s: float = 0.0
    ) -> None:
        await self._db.execute(RELEASE, session_id, owner, error, retry_in_s)


class PostgresSagaUnit:
    """The SagaUnit port: saga rows, leases and outbox on the connection of one transaction."""

    def __init__(self, connection: Connection, outbox: Outbox) -> None:
        self.saga = PostgresSaga(connection)
        self.leases = PostgresLeases(connection)
        self.outbox: BoundOutbox = outbox.bound(connection)


class PostgresSagaDatabase:
    """The SagaDatabase port over the pool."""

    def __init__(self, pool: asyncpg.Pool, outbox: Outbox) -> None:
        self._pool = pool
        self._outbox = outbox
        self.saga = PostgresSaga(pool)
        self.leases = PostgresLeases(pool)
        self._record = outbox.insert_statement(
            _RECORD_BEFORE,
            len(_WRITTEN) + _RECORD_PARAMETERS + 1,
            only_if="EXISTS (SELECT 1 FROM inserted)",
            rows_of="inserted",
        )

    async def record_asset(
        self,
        asset: Asset,
        event: AssetCreated,
        owner: UUID,
        *,
        lease_s: float,
        correlation_id: str,
        principal: Principal | None,
    ) -> Asset | None:
        rows = self._outbox.rows(
            [(EventType.ASSET_CREATED, event, str(asset.upload_session_id), asset.tenant_id)],
            correlation_id=correlation_id,
            principal=principal,
        )
        values = [getattr(asset, name) for name in _WRITTEN]
        row = await self._pool.fetchrow(
            self._record, asset.upload_session_id, owner, lease_s, *values, *columns(rows)
        )
        return _asset(row)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresSagaUnit]:
        async with self._pool.acquire() as connection, connection.transaction():
            yield PostgresSagaUnit(connection, self._outbox)


async def prune_done(connection: Connection, older_than: datetime, limit: int) -> int:
    """Delete up to `limit` finished sagas whose last step ended before `older_than`."""
    status = await connection.execute(PRUNE_DONE, older_than, limit)
    return int(status.rsplit(" ", 1)[-1])


async def promoting(db: Executor, tenant_id: str, asset_ids: Iterable[UUID]) -> set[UUID]:
    """The assets of `tenant_id` among `asset_ids` whose saga has not finished."""
    rows = await db.fetch(PROMOTING, tenant_id, list(asset_ids))
    return {row["asset_id"] for row in rows}
