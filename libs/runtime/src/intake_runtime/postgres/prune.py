"""Pruning of the runtime's tables in a service's schema: inbox and published outbox rows.

Each call deletes one bounded batch in the caller's transaction; the caller repeats until a
batch comes back short, so no transaction is ever long.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from intake_contracts.commands import PruneOlderThan, PruneResult
from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode
from intake_runtime.postgres.migrations import checked_schema

PRUNE_CALLER = "cleanup"

# A string: PoolConnectionProxy is generic only in the stubs.
Connection: TypeAlias = "asyncpg.Connection | PoolConnectionProxy[asyncpg.Record]"


PruneOwnRows: TypeAlias = Callable[[Connection, datetime, int], Awaitable[int]]


async def prune_batch(
    pool: asyncpg.Pool,
    schema: str,
    principal: Principal,
    request: PruneOlderThan,
    prune_own_rows: PruneOwnRows,
) -> PruneResult:
    """One prune batch of a service in one short transaction: its own finished rows
    (`prune_own_rows`), then its inbox and published outbox rows. Cleanup repeats it until a
    batch comes back short; a redelivery deletes what is older still, or nothing."""
    require_prune_caller(principal)
    older_than, limit = request.older_than, request.limit
    async with pool.acquire() as connection, connection.transaction():
        return PruneResult(
            removed=await prune_own_rows(connection, older_than, limit),
            inbox_removed=await prune_inbox(connection, schema, older_than, limit),
            outbox_removed=await prune_published_outbox(connection, schema, older_than, limit),
        )


def _prune(schema: str, table: str, key: str, where: str) -> str:
    schema = checked_schema(schema)
    return (
        f"DELETE FROM {schema}.{table} WHERE {key} IN (SELECT {key} FROM {schema}.{table}"
        f" WHERE {where} LIMIT $2 FOR UPDATE SKIP LOCKED)"
    )


async def prune_inbox(connection: Connection, schema: str, older_than: datetime, limit: int) -> int:
    """Inbox rows received before `older_than`: a redelivery of their command is no longer
    possible (the command topic's retention is shorter than any prune age allowed)."""
    query = _prune(schema, "inbox", "message_id", "received_at < $1")
    return _count(await connection.execute(query, older_than, limit))


async def prune_published_outbox(
    connection: Connection, schema: str, older_than: datetime, limit: int
) -> int:
    """Outbox rows relayed before `older_than`; unpublished rows are never touched."""
    query = _prune(schema, "outbox", "id", "published_at < $1")
    return _count(await connection.execute(query, older_than, limit))


def _count(status: str) -> int:
    """Rows a `DELETE n` status names."""
    return int(status.rsplit(" ", 1)[-1])


def require_prune_caller(principal: Principal) -> None:
    """Pruning removes rows of every tenant by age: only cleanup, acting as the system, may
    ask for it (a user's token never carries a service)."""
    if principal.service != PRUNE_CALLER:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "only cleanup may prune")
