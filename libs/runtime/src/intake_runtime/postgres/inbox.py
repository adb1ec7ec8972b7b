"""The inbox: a command's effects and its reply commit together, so a redelivery changes nothing."""

from collections.abc import Awaitable, Callable
from typing import cast
from uuid import UUID

import asyncpg

from intake_contracts.errors import DomainError
from intake_contracts.replies import Reply
from intake_runtime.postgres.migrations import checked_schema


class PostgresTransactions:
    """TransactionRunner over asyncpg: one transaction per command, inbox row included."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        schema = checked_schema(schema)
        # Blocks on a concurrent duplicate until it commits, then finds its row: no double work.
        self._claim = (
            f"INSERT INTO {schema}.inbox (message_id, command_type) VALUES ($1, $2)"
            " ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
        )
        self._stored = f"SELECT reply FROM {schema}.inbox WHERE message_id = $1"
        self._store = f"UPDATE {schema}.inbox SET reply = $2 WHERE message_id = $1"

    async def run(
        self,
        message_id: UUID | None,
        command_type: str,
        work: Callable[[asyncpg.Connection], Awaitable[Reply]],
    ) -> Reply:
        async with self._pool.acquire() as connection, connection.transaction():
            if message_id is not None and not await connection.fetchval(
                self._claim, message_id, command_type
            ):
                return Reply.model_validate(await connection.fetchval(self._stored, message_id))
            try:
                async with connection.transaction():  # a savepoint: a refusal undoes its work
                    reply = await work(cast(asyncpg.Connection, connection))
            except DomainError as error:
                reply = Reply.failure(error.body())
            if message_id is not None:
                await connection.execute(self._store, message_id, reply.model_dump(mode="json"))
            return reply
