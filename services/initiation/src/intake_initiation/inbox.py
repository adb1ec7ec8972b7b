"""Initiation's inbox runner: a command's effects and its reply commit together, so a
redelivery changes nothing; and the two faster ways some of its commands run (claim-last,
statement-at-a-time, both defined in docs/architecture.md)."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast
from uuid import UUID

import asyncpg

from intake_contracts.errors import DomainError
from intake_contracts.replies import Reply
from intake_runtime.messaging.dispatch import TransactionRunner
from intake_runtime.postgres.migrations import checked_schema
from intake_runtime.postgres.outbox import Outbox, PendingEvents, columns

log = logging.getLogger(__name__)

Undo = Callable[[], Awaitable[None]]
# A claim-last work that wrote nothing (an idempotency replay): the claim needs only `unclaimed`.
NOTHING_WRITTEN = "SELECT 1 FROM unclaimed"


@dataclass
class LastWrite:
    """The one write of a command run claim-last, which the runner puts in the statement that
    claims the inbox row, stores the reply and adds the events: the whole command is one round
    trip. The statement is a data-modifying one with RETURNING, its parameters `$1..$n`; it
    must write only when the runner's CTE `unclaimed` has a row (`INSERT ... SELECT ... FROM
    unclaimed`), and write nothing on a conflict (`ON CONFLICT DO NOTHING`): a conflict means
    the work lost a race or the command was handled before, and nothing of it is kept."""

    statement: str = NOTHING_WRITTEN
    arguments: tuple[object, ...] = ()
    undo: list[Undo] = field(default_factory=list)
    # Further CTEs run with the write (`name AS (...)`, comma-separated), which may read the
    # write's RETURNING rows as `work`: what the write costs elsewhere (a quota's counter).
    then: str = ""
    # The refusal a constraint of the statement raises (a quota exceeded), or None: an error
    # it answers is the command's DomainError, recorded like any other refusal.
    refusal: Callable[[asyncpg.PostgresError], DomainError | None] | None = None

    def write(
        self,
        statement: str,
        *arguments: object,
        then: str = "",
        refusal: Callable[[asyncpg.PostgresError], DomainError | None] | None = None,
    ) -> None:
        """Raises:
        RuntimeError: the work already wrote (claim-last work writes one statement).
        """
        if self.statement != NOTHING_WRITTEN:
            raise RuntimeError("claim-last work writes a single statement")
        self.statement, self.arguments = statement, arguments
        self.then, self.refusal = then, refusal

    def if_discarded(self, undo: Undo) -> None:
        """Undo an effect outside the database if the work is discarded."""
        self.undo.append(undo)

    async def discard(self) -> None:
        """Best effort: what an undo leaves is found later by the cleanup jobs."""
        for undo in self.undo:
            try:
                await undo()
            except Exception as error:
                log.warning("effect of discarded work left for cleanup", exc_info=error)


@dataclass
class Transaction:
    """What the work of one command gets: the transaction's connection, and with an outbox
    the events it adds, which the runner writes in its last statement with the reply. A
    claim-last command's work runs outside a transaction and hands its write to `last_write`."""

    connection: asyncpg.Connection
    events: PendingEvents | None = field(default=None)
    last_write: LastWrite | None = field(default=None)


class PostgresTransactions:
    """TransactionRunner over asyncpg: one transaction per command, inbox row included."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        outbox: Outbox | None = None,
        *,
        statement_at_a_time: frozenset[str] = frozenset(),
        claim_last: frozenset[str] = frozenset(),
    ) -> None:
        """`statement_at_a_time`: command types (without inbox) whose work is reads and at most
        one single-statement write, each atomic on its own: they run with no BEGIN and COMMIT,
        two round trips fewer (a part URL: four to two). `claim_last`: command types (with
        inbox) whose work is reads and one `LastWrite`: the write, the claim, the reply and the
        events go in one statement (an initiate: five round trips to one).

        Raises:
            ValueError: claim-last commands without an outbox.
        """
        if claim_last and outbox is None:
            raise ValueError("claim-last commands write their events with the claim")
        self._pool = pool
        self._outbox = outbox
        self._statement_at_a_time = statement_at_a_time
        self._claim_last = claim_last
        self._claiming: dict[tuple[str, str, int], str] = {}
        schema = checked_schema(schema)
        self._schema = schema
        # Blocks on a concurrent duplicate until it commits, then finds its row: no double work.
        self._claim = (
            f"INSERT INTO {schema}.inbox (message_id, command_type) VALUES ($1, $2)"
            " ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
        )
        self._stored = f"SELECT reply FROM {schema}.inbox WHERE message_id = $1"
        self._store = f"UPDATE {schema}.inbox SET reply = $2 WHERE message_id = $1"
        # The reply and the events in one round trip (data-modifying CTEs always run).
        self._store_with_events = (
            outbox.insert_statement(
                f"stored AS (UPDATE {schema}.inbox SET reply = $1 WHERE message_id = $2),", 3
            )
            if outbox is not None
            else None
        )
        self._claim_refused = (
            f"INSERT INTO {schema}.inbox (message_id, command_type, reply) VALUES ($1, $2, $3)"
            " ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
        )

    async def run(
        self,
        message_id: UUID | None,
        command_type: str,
        work: Callable[[Transaction], Awaitable[Reply]],
    ) -> Reply:
        try:
            return await self._run(message_id, command_type, work)
        except DomainError as error:
            refusal = Reply.failure(error.body())
        # The refused work went with its transaction (no savepoint: two round trips fewer on
        # every command that succeeds); the refusal is recorded in one of its own.
        if message_id is None:
            return refusal
        return await self._refuse(message_id, command_type, refusal)

    async def _run(
        self,
        message_id: UUID | None,
        command_type: str,
        work: Callable[[Transaction], Awaitable[Reply]],
    ) -> Reply:
        if message_id is None and command_type in self._statement_at_a_time:
            return await self._run_statement_at_a_time(command_type, work)
        if message_id is not None and command_type in self._claim_last:
            return await self._run_claiming_last(message_id, command_type, work)
        return await self._run_in_transaction(message_id, command_type, work)

    async def _run_in_transaction(
        self,
        message_id: UUID | None,
        command_type: str,
        work: Callable[[Transaction], Awaitable[Reply]],
    ) -> Reply:
        async with self._pool.acquire() as connection, connection.transaction():
            if message_id is not None and not await connection.fetchval(
                self._claim, message_id, command_type
            ):
                return Reply.model_validate(await connection.fetchval(self._stored, message_id))
            events = PendingEvents(self._outbox) if self._outbox is not None else None
            reply = await work(Transaction(cast(asyncpg.Connection, connection), events))
            await self._finish(cast(asyncpg.Connection, connection), message_id, reply, events)
            return reply

    async def _run_claiming_last(
        self, message_id: UUID, command_type: str, work: Callable[[Transaction], Awaitable[Reply]]
    ) -> Reply:
        """The work first (its reads a statement at a time), then one statement. When it claims
        nothing, the work is discarded: a handled command gets its stored reply, and a write
        that lost a race runs again the classic way (claim first, in a transaction), where the
        work sees the winner."""
        assert self._outbox is not None  # noqa: S101 - checked at construction
        events = PendingEvents(self._outbox)
        last = LastWrite()
        async with self._pool.acquire() as connection:
            reply = await work(Transaction(cast(asyncpg.Connection, connection), events, last))
            try:
                claimed = await connection.fetchrow(
                    self._claiming_statement(last.statement, last.then, len(last.arguments)),
                    *last.arguments,
                    message_id,
                    command_type,
                    reply.model_dump(mode="json"),
                    *columns(events.rows),
                )
            except asyncpg.PostgresError as error:
                await last.discard()
                refusal = last.refusal(error) if last.refusal is not None else None
                if refusal is None:
                    raise
                raise refusal from error
            if claimed is not None:
                return reply
            stored = await connection.fetchval(self._stored, message_id)
        await last.discard()
        if stored is not None:
            return Reply.model_validate(stored)
        return await self._run_in_transaction(message_id, command_type, work)

    def _claiming_statement(self, write: str, then: str, parameters: int) -> str:
        """The work's write, the claim only if it wrote, and the events only if it claimed."""
        key = (write, then, parameters)
        if key not in self._claiming:
            assert self._outbox is not None  # noqa: S101 - checked at construction
            m = parameters + 1
            before = (
                f"unclaimed AS (SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM {self._schema}.inbox"
                f" WHERE message_id = ${m}::uuid)), work AS ({write}),"
                f"{f' {then},' if then else ''}"
                f" claim AS (INSERT INTO {self._schema}.inbox (message_id, command_type, reply)"
                f" SELECT ${m}::uuid, ${m + 1}::text, ${m + 2}::jsonb"
                " WHERE EXISTS (SELECT 1 FROM work)"
                " ON CONFLICT (message_id) DO NOTHING RETURNING message_id),"
            )
            self._claiming[key] = self._outbox.insert_statement(
                before, m + 3, only_if="EXISTS (SELECT 1 FROM claim)", rows_of="claim"
            )
        return self._claiming[key]

    async def _run_statement_at_a_time(
        self, command_type: str, work: Callable[[Transaction], Awaitable[Reply]]
    ) -> Reply:
        """Raises:
        RuntimeError: the work added events, which need the transaction it does not have.
        """
        async with self._pool.acquire() as connection:
            events = PendingEvents(self._outbox) if self._outbox is not None else None
            reply = await work(Transaction(cast(asyncpg.Connection, connection), events))
        if events is not None and events.rows:
            raise RuntimeError(f"{command_type} runs without a transaction: it cannot add events")
        return reply

    async def _finish(
        self,
        connection: asyncpg.Connection,
        message_id: UUID | None,
        reply: Reply,
        events: PendingEvents | None,
    ) -> None:
        """The reply into the inbox and the pending events into the outbox, in one statement."""
        rows = events.rows if events is not None else []
        if self._outbox is not None and rows:
            if message_id is None:
                await connection.execute(self._outbox.insert_statement(), *columns(rows))
                return
            if self._store_with_events is not None:
                reply_json = reply.model_dump(mode="json")
                await connection.execute(
                    self._store_with_events, reply_json, message_id, *columns(rows)
                )
                return
        if message_id is not None:
            await connection.execute(self._store, message_id, reply.model_dump(mode="json"))

    async def _refuse(self, message_id: UUID, command_type: str, refusal: Reply) -> Reply:
        """Record the refusal, unless a duplicate of the command recorded its reply meanwhile
        (it waited on our claim, which the rollback released): then that reply is the one."""
        async with self._pool.acquire() as connection:
            if await connection.fetchval(
                self._claim_refused, message_id, command_type, refusal.model_dump(mode="json")
            ):
                return refusal
            return Reply.model_validate(await connection.fetchval(self._stored, message_id))


Raw = TypeVar("Raw")
Tx = TypeVar("Tx")


class BoundTransactions(Generic[Raw, Tx]):
    """A runner whose transaction handle is turned into the use cases' unit of work (their
    repository and outbox bound to that one transaction): atomicity stays the runner's."""

    def __init__(self, runner: TransactionRunner[Raw], bind: Callable[[Raw], Tx]) -> None:
        self._runner = runner
        self._bind = bind

    async def run(
        self,
        message_id: UUID | None,
        command_type: str,
        work: Callable[[Tx], Awaitable[Reply]],
    ) -> Reply:
        async def bound(raw: Raw) -> Reply:
            return await work(self._bind(raw))

        return await self._runner.run(message_id, command_type, bound)
