"""SQL of the initiation schema: named, parameterised, schema-qualified statements, and the
Postgres adapters of the SessionRepository and Unit ports. The only SQL of the service."""

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Final
from uuid import UUID

import asyncpg

from intake_contracts.commands import Commands
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.integrity import ChecksumAlgorithm
from intake_contracts.sessions import (
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    UploadStatus,
    UploadType,
    sql_list,
)
from intake_initiation.domain import Session
from intake_initiation.inbox import BoundTransactions, LastWrite, PostgresTransactions, Transaction
from intake_initiation.settings import SCHEMA
from intake_runtime.postgres.outbox import Outbox, PendingEvents
from intake_runtime.postgres.prune import Connection

_COLUMNS = ", ".join(field.name for field in fields(Session))
_TABLE = "initiation.upload_sessions"
_LIVE = f"ARRAY[{sql_list(LIVE_STATUSES)[1:-1]}]"

_INSERTED = (
    "(id, tenant_id, brand_id, user_id, status, file_name, mime_type, size_bytes, upload_type,"
    " chunk_size, part_count, bucket, temp_key, client_reference, batch_reference, category_id,"
    " checksum_sha256, idempotency_key, request_fingerprint, expires_at, last_activity_at,"
    " created_at, updated_at, multipart_upload_id, checksum_algorithm, checksum)"
)
# Typed, so the same row serves a VALUES list and the SELECT list of a conditional insert.
_ROW = (
    "$1::uuid, $2::text, $3::text, $4::text, $22::text, $5::text, $6::text, $7::bigint,"
    " $8::text, $9::bigint, $10::integer, $11::text, $12::text, $13::text, $14::text,"
    " $15::text, $16::text, $17::text, $18::text, $19::timestamptz, $20::timestamptz,"
    " $21::timestamptz, $21::timestamptz, $23::text, $24::text, $25::text"
)
# The tenant's cost of the session `work` inserted (none when it inserted nothing), under the
# quota $26 sessions and $27 bytes: the row's CHECKs refuse a charge above it, which fails the
# whole statement, session included (migrations/0004_tenant_quota.sql).
CHARGE = (
    "charged AS (INSERT INTO initiation.tenant_usage AS usage"
    " (tenant_id, open_sessions, open_bytes, max_sessions, max_bytes)"
    " SELECT tenant_id, 1, size_bytes, $26::bigint, $27::bigint FROM work"
    " ON CONFLICT (tenant_id) DO UPDATE SET open_sessions = usage.open_sessions + 1,"
    " open_bytes = usage.open_bytes + excluded.open_bytes,"
    " max_sessions = excluded.max_sessions, max_bytes = excluded.max_bytes)"
)
INSERT = (
    f"WITH work AS (INSERT INTO {_TABLE} {_INSERTED} VALUES ({_ROW})"
    " ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
    f" RETURNING {_COLUMNS}), {CHARGE} SELECT * FROM work"
)
# An initiate's one write when it runs claim-last (the inbox runner's `LastWrite`, with the
# charge as its `then`): nothing when the command was handled before (`unclaimed`), when its
# session id is taken (a redelivery names the same session) or when its idempotency key is.
INSERT_CLAIMING_LAST = (
    f"INSERT INTO {_TABLE} {_INSERTED} SELECT {_ROW} FROM unclaimed"
    " ON CONFLICT DO NOTHING RETURNING tenant_id, size_bytes"
)
_QUOTA_CONSTRAINTS: Final = {
    "tenant_usage_sessions_quota": "open upload sessions",
    "tenant_usage_bytes_quota": "bytes declared by open upload sessions",
}
BY_ID = f"SELECT {_COLUMNS} FROM {_TABLE} WHERE id = $1 AND tenant_id = $2"
BY_IDEMPOTENCY_KEY = (
    f"SELECT {_COLUMNS} FROM {_TABLE} WHERE tenant_id = $1 AND idempotency_key = $2"
)
# The compare-and-set every status change goes through: it wins only from an allowed status.
TRANSITION = (
    f"UPDATE {_TABLE} SET status = $3, updated_at = $10,"
    " multipart_upload_id = coalesce($5, multipart_upload_id),"
    " failure_reason = coalesce($6, failure_reason), asset_id = coalesce($7, asset_id)"
    " WHERE id = $1 AND tenant_id = $2 AND status = ANY($4::text[])"
    " AND ($8::timestamptz IS NULL OR last_activity_at < $8)"
    " AND ($9::timestamptz IS NULL OR expires_at <= $9)"
    f" RETURNING {_COLUMNS}"
)
# MarkFailed's compare-and-set for many sessions, each row in its own tenant. FOR UPDATE
# re-checks the conditions against a row a concurrent writer changed, so a session touched or
# completed meanwhile is left alone; the previous status comes back for the lifecycle event.
FAIL_MANY = (
    "WITH wanted AS (SELECT * FROM unnest($1::uuid[], $2::text[]) AS w (id, tenant_id)),"
    f" old AS (SELECT s.id, s.status AS previous FROM {_TABLE} s"
    " JOIN wanted w ON s.id = w.id AND s.tenant_id = w.tenant_id"
    f" WHERE s.status = ANY({_LIVE})"
    " AND ($4::timestamptz IS NULL OR s.last_activity_at < $4)"
    " AND ($5::timestamptz IS NULL OR s.expires_at <= $5)"
    " ORDER BY s.id FOR UPDATE OF s)"
    f" UPDATE {_TABLE} s SET status = '{UploadStatus.FAILED}', updated_at = $6,"
    " failure_reason = coalesce($3, s.failure_reason)"
    " FROM old WHERE s.id = old.id"
    f" RETURNING {', '.join(f's.{field.name}' for field in fields(Session))}, old.previous"
)
STATUSES = (
    f"SELECT s.id, s.status FROM {_TABLE} s"
    " JOIN unnest($1::uuid[], $2::text[]) AS w (id, tenant_id)"
    " ON s.id = w.id AND s.tenant_id = w.tenant_id"
)
TOUCH = (
    f"UPDATE {_TABLE} SET last_activity_at = $3"
    f" WHERE id = $1 AND tenant_id = $2 AND status = ANY({_LIVE})"
    f" RETURNING {_COLUMNS}"
)
# Finished sessions by when they finished; SKIP LOCKED: a batch never waits on a live writer.
PRUNE_FINISHED = (
    f"DELETE FROM {_TABLE} WHERE id IN (SELECT id FROM {_TABLE}"
    f" WHERE status IN {sql_list(TERMINAL_STATUSES)} AND updated_at < $1"
    " ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
)


@dataclass(frozen=True)
class Quota:
    """What one tenant may have in flight: live sessions and the bytes they declared."""

    max_open_sessions: int = 2**63 - 1
    max_open_bytes: int = 2**63 - 1

    def refusal(self, error: asyncpg.PostgresError) -> DomainError | None:
        """quota_exceeded when `error` is a charge the quota refused; else None."""
        what = _QUOTA_CONSTRAINTS.get(getattr(error, "constraint_name", None) or "")
        if not isinstance(error, asyncpg.CheckViolationError) or what is None:
            return None
        return DomainError(
            ErrorCode.QUOTA_EXCEEDED,
            f"the tenant is at its quota of {what} ({self.max_open_sessions} sessions,"
            f" {self.max_open_bytes} bytes): complete or cancel uploads, then retry",
        )


def _session(row: asyncpg.Record | None) -> Session | None:
    if row is None:
        return None
    return _from_values(dict(row))


def _from_values(values: dict[str, object]) -> Session:
    values["status"] = UploadStatus(str(values["status"]))
    values["upload_type"] = UploadType(str(values["upload_type"]))
    algorithm = values["checksum_algorithm"]
    values["checksum_algorithm"] = ChecksumAlgorithm(str(algorithm)) if algorithm else None
    return Session(**values)  # type: ignore[arg-type]


def _insert_arguments(session: Session) -> tuple[object, ...]:
    return (
        session.id,
        session.tenant_id,
        session.brand_id,
        session.user_id,
        session.file_name,
        session.mime_type,
        session.size_bytes,
        session.upload_type.value,
        session.chunk_size,
        session.part_count,
        session.bucket,
        session.temp_key,
        session.client_reference,
        session.batch_reference,
        session.category_id,
        session.checksum_sha256,
        session.idempotency_key,
        session.request_fingerprint,
        session.expires_at,
        session.last_activity_at,
        session.created_at,
        session.status.value,
        session.multipart_upload_id,
        session.checksum_algorithm.value if session.checksum_algorithm else None,
        session.checksum,
    )


class PostgresSessions:
    """The SessionRepository port over one connection (the unit of work's transaction); with
    a `LastWrite`, the insert is handed to the runner instead (claim-last)."""

    def __init__(
        self,
        connection: asyncpg.Connection,
        last_write: LastWrite | None = None,
        quota: Quota | None = None,
    ) -> None:
        self._connection = connection
        self._last_write = last_write
        self._quota = quota or Quota()

    async def insert(self, session: Session) -> Session | None:
        """Raises:
        DomainError: quota_exceeded, when the session would take its tenant over its quota.
        """
        quota = self._quota
        arguments = (*_insert_arguments(session), quota.max_open_sessions, quota.max_open_bytes)
        if self._last_write is not None:
            # Written with the inbox claim; if it is not, the runner discards this work.
            self._last_write.write(
                INSERT_CLAIMING_LAST, *arguments, then=CHARGE, refusal=quota.refusal
            )
            return session
        try:
            return _session(await self._connection.fetchrow(INSERT, *arguments))
        except asyncpg.CheckViolationError as error:
            refusal = quota.refusal(error)
            if refusal is None:
                raise
            raise refusal from None

    async def get(self, session_id: UUID, tenant_id: str) -> Session | None:
        return _session(await self._connection.fetchrow(BY_ID, session_id, tenant_id))

    async def by_idempotency_key(self, tenant_id: str, key: str) -> Session | None:
        return _session(await self._connection.fetchrow(BY_IDEMPOTENCY_KEY, tenant_id, key))

    async def transition(
        self,
        session: Session,
        target: UploadStatus,
        allowed_from: list[UploadStatus],
        now: datetime,
        *,
        multipart_upload_id: str | None = None,
        failure_reason: str | None = None,
        asset_id: UUID | None = None,
        idle_before: datetime | None = None,
        expired_at: datetime | None = None,
    ) -> Session | None:
        row = await self._connection.fetchrow(
            TRANSITION,
            session.id,
            session.tenant_id,
            target.value,
            [status.value for status in allowed_from],
            multipart_upload_id,
            failure_reason,
            asset_id,
            idle_before,
            expired_at,
            now,
        )
        return _session(row)

    async def touch(self, session_id: UUID, tenant_id: str, now: datetime) -> Session | None:
        return _session(await self._connection.fetchrow(TOUCH, session_id, tenant_id, now))

    async def fail_many(
        self,
        sessions: list[tuple[UUID, str]],
        reason: str,
        now: datetime,
        *,
        idle_before: datetime | None = None,
        expired_at: datetime | None = None,
    ) -> list[tuple[Session, UploadStatus]]:
        rows = await self._connection.fetch(
            FAIL_MANY,
            [session_id for session_id, _ in sessions],
            [tenant_id for _, tenant_id in sessions],
            reason,
            idle_before,
            expired_at,
            now,
        )
        failed = []
        for row in rows:
            values = dict(row)
            previous = UploadStatus(values.pop("previous"))
            failed.append((_from_values(values), previous))
        return failed

    async def statuses(self, sessions: list[tuple[UUID, str]]) -> dict[UUID, UploadStatus]:
        rows = await self._connection.fetch(
            STATUSES,
            [session_id for session_id, _ in sessions],
            [tenant_id for _, tenant_id in sessions],
        )
        return {row["id"]: UploadStatus(row["status"]) for row in rows}


class PostgresUnit:
    """The Unit port: the repository on the command's transaction, and its events, which the
    runner writes with the inbox reply in the transaction's last statement."""

    def __init__(self, tx: Transaction, quota: Quota | None = None) -> None:
        if tx.events is None:
            raise ValueError("initiation's runner keeps the events of its transactions")
        self._connection = tx.connection
        self._sessions = PostgresSessions(tx.connection, tx.last_write, quota)
        self._events = tx.events
        self._last_write = tx.last_write

    @property
    def sessions(self) -> PostgresSessions:
        return self._sessions

    @property
    def outbox(self) -> PendingEvents:
        return self._events

    def if_discarded(self, undo: Callable[[], Awaitable[None]]) -> None:
        """Only claim-last work is ever discarded: a transaction claims before its work runs."""
        if self._last_write is not None:
            self._last_write.if_discarded(undo)

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[object]:
        """Undoes the rows and forgets the events added inside it when it raises."""
        kept = len(self._events.rows)
        try:
            async with self._connection.transaction():
                yield self
        except BaseException:
            self._events.undo_after(kept)
            raise


# Commands without inbox whose work is reads and at most one UPDATE (the activity touch,
# itself a compare-and-set on a live status) and no event: a transaction adds only BEGIN and
# COMMIT round trips. A session cancelled between the read and the touch is not touched.
STATEMENT_AT_A_TIME: Final = frozenset(
    str(spec.name)
    for spec in (
        Commands.SIGN_PARTS,
        Commands.GET_SESSION,
        Commands.RESUME,
        Commands.TOUCH_ACTIVITY,
        Commands.BEGIN_COMPLETION,
    )
)

# Commands with inbox whose work is reads, storage and one insert, and whose session id comes
# from the command's message id: the insert, the claim, the reply and the events go in one
# statement (five round trips to one). InitiateBatch stays in a transaction: a savepoint per
# file.
CLAIM_LAST: Final = frozenset({str(Commands.INITIATE.name)})


def transactions(
    pool: asyncpg.Pool, outbox: Outbox, quota: Quota | None = None
) -> BoundTransactions[Transaction, PostgresUnit]:
    """The runner of initiation's commands: inbox, state change and outbox in one transaction;
    an initiate in one statement; the reads (and a read then one activity touch) a statement at
    a time. New sessions are charged to their tenant under `quota` (none: unlimited)."""
    return BoundTransactions(
        PostgresTransactions(
            pool,
            SCHEMA,
            outbox,
            statement_at_a_time=STATEMENT_AT_A_TIME,
            claim_last=CLAIM_LAST,
        ),
        functools.partial(PostgresUnit, quota=quota),
    )


async def prune_finished(
    connection: Connection,
    older_than: datetime,
    limit: int,
) -> int:
    """Delete up to `limit` terminal sessions that finished before `older_than`."""
    status = await connection.execute(PRUNE_FINISHED, older_than, limit)
    return int(status.rsplit(" ", 1)[-1])
