"""The inbox's rules in initiation's PostgresTransactions itself, on a stand-in pool that keeps
the inbox table in a dict (the SQL meets the real Postgres in the integration and e2e tests)."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
import pytest

from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.events import EventType
from intake_contracts.replies import Reply
from intake_contracts.sessions import StatusView, UploadStatus
from intake_initiation.inbox import LastWrite, PostgresTransactions, Transaction
from intake_runtime.postgres.outbox import Outbox
from tests.support.events import lifecycle_event


class InboxConnection:
    """Answers the inbox's statements; a transaction undone restores the rows it changed and
    is counted."""

    def __init__(self, rows: dict[uuid.UUID, Any]) -> None:
        self.rows = rows
        self.undone = 0
        self.transactions = 0

    async def fetchval(self, query: str, *args: Any) -> Any:
        if query.startswith("INSERT"):
            message_id = args[0]
            if message_id in self.rows:
                return None
            self.rows[message_id] = args[2] if len(args) > 2 else None  # a refusal's own claim
            return message_id
        return self.rows[args[0]]

    async def execute(self, query: str, *args: Any) -> str:
        assert query.startswith("UPDATE")
        self.rows[args[0]] = args[1]
        return "UPDATE 1"

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.transactions += 1
        before = dict(self.rows)
        try:
            yield
        except BaseException:
            self.undone += 1
            self.rows.clear()
            self.rows.update(before)
            raise


class InboxPool:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Any] = {}
        self.connection = InboxConnection(self.rows)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[InboxConnection]:
        yield self.connection


CANCELLED = StatusView(upload_session_id=uuid.uuid4(), status=UploadStatus.CANCELLED)


@pytest.fixture
def pool() -> InboxPool:
    return InboxPool()


def runner(pool: InboxPool) -> PostgresTransactions:
    return PostgresTransactions(cast(asyncpg.Pool, pool), "initiation")


async def test_a_redelivered_message_answers_the_stored_reply_without_running_again(
    pool: InboxPool,
) -> None:
    runs: list[object] = []

    async def work(connection: Any) -> Reply:
        runs.append(connection)
        return Reply.success(CANCELLED)

    message_id = uuid.uuid4()
    first = await runner(pool).run(message_id, "initiation.cancel", work)
    again = await runner(pool).run(message_id, "initiation.cancel", work)
    assert again == first
    assert len(runs) == 1


async def test_a_refusal_undoes_its_work_and_is_stored_as_the_reply(pool: InboxPool) -> None:
    runs = 0

    async def refuse(_: Any) -> Reply:
        nonlocal runs
        runs += 1
        raise DomainError(ErrorCode.UPLOAD_CANCELLED, "upload session is CANCELLED")

    message_id = uuid.uuid4()
    reply = await runner(pool).run(message_id, "initiation.cancel", refuse)
    assert reply.error is not None
    assert reply.error.code == ErrorCode.UPLOAD_CANCELLED
    assert pool.connection.undone == 1  # the work's transaction
    assert Reply.model_validate(pool.rows[message_id]) == reply
    assert await runner(pool).run(message_id, "initiation.cancel", refuse) == reply
    assert runs == 1


async def test_any_other_error_undoes_everything_and_stores_nothing(pool: InboxPool) -> None:
    async def crash(_: Any) -> Reply:
        raise OSError("database went away")

    with pytest.raises(OSError, match="went away"):
        await runner(pool).run(uuid.uuid4(), "initiation.cancel", crash)
    assert pool.connection.undone == 1  # the transaction: the claim is undone too
    assert pool.rows == {}  # so a redelivery runs again


async def test_without_a_message_id_nothing_is_claimed(pool: InboxPool) -> None:
    async def work(_: Any) -> Reply:
        return Reply.success(CANCELLED)

    assert (await runner(pool).run(None, "initiation.get_session", work)).ok
    assert pool.rows == {}


async def test_a_command_run_a_statement_at_a_time_opens_no_transaction(pool: InboxPool) -> None:
    runner = PostgresTransactions(
        cast(asyncpg.Pool, pool), "initiation", statement_at_a_time=frozenset({"initiation.get"})
    )

    async def work(_: Any) -> Reply:
        return Reply.success(CANCELLED)

    assert (await runner.run(None, "initiation.get", work)).ok
    assert pool.connection.transactions == 0
    assert (await runner.run(None, "initiation.other", work)).ok
    assert pool.connection.transactions == 1
    # With a message id the inbox needs its transaction, whatever the command type.
    assert (await runner.run(uuid.uuid4(), "initiation.get", work)).ok
    assert pool.connection.transactions == 2


async def test_a_command_run_a_statement_at_a_time_may_not_add_events(pool: InboxPool) -> None:
    runner = PostgresTransactions(
        cast(asyncpg.Pool, pool),
        "initiation",
        Outbox("initiation"),
        statement_at_a_time=frozenset({"initiation.get"}),
    )

    async def emits(tx: Transaction) -> Reply:
        assert tx.events is not None
        await tx.events.add(
            EventType.UPLOAD_CANCELLED,
            lifecycle_event(tenant_id="t"),
            key="k",
            tenant_id="t",
            correlation_id="c",
        )
        return Reply.success(CANCELLED)

    with pytest.raises(RuntimeError, match="cannot add events"):
        await runner.run(None, "initiation.get", emits)


async def test_claim_last_work_writes_one_statement() -> None:
    last = LastWrite()
    last.write("INSERT INTO t SELECT $1 FROM unclaimed RETURNING 1", 1)
    with pytest.raises(RuntimeError, match="single statement"):
        last.write("INSERT INTO t SELECT $1 FROM unclaimed RETURNING 1", 2)
    assert last.arguments == (1,)


async def test_discarded_work_runs_every_undo_even_after_one_fails() -> None:
    last, undone = LastWrite(), []

    async def failing() -> None:
        raise OSError("storage down")

    async def undo() -> None:
        undone.append("aborted")

    last.if_discarded(failing)
    last.if_discarded(undo)
    await last.discard()  # logged, not raised: the cleanup jobs find what stays
    assert undone == ["aborted"]


def test_claim_last_commands_need_an_outbox(pool: InboxPool) -> None:
    with pytest.raises(ValueError, match="events"):
        PostgresTransactions(cast(asyncpg.Pool, pool), "initiation", claim_last=frozenset({"x"}))
