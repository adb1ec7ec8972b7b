"""Transactional outbox: events written with the state change, relayed to Kafka afterwards."""

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from typing import Any, NamedTuple

import asyncpg
from aiokafka.errors import (
    InvalidProducerEpoch,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)
from asyncpg.pool import PoolConnectionProxy
from faststream.kafka import KafkaBroker
from opentelemetry import context as otel_context
from opentelemetry import propagate
from pydantic import BaseModel

from intake_contracts.envelope import Envelope, Principal
from intake_contracts.events import EVENT_MODELS, EventType
from intake_runtime import metrics
from intake_runtime.messaging import names
from intake_runtime.postgres.migrations import checked_schema
from intake_runtime.tasks import stop_task

log = logging.getLogger(__name__)

# Errors after which the idempotent producer never publishes again: its sequence numbers no
# longer match the broker's (seen by the soak after a Kafka restart, every later round failing
# with OutOfOrderSequenceNumber while the outbox grew). Only a new producer recovers.
PRODUCER_BROKEN = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
)


def producer_broken(error: BaseException) -> bool:
    """Whether `error` (or what caused it) leaves the producer unable to publish."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, PRODUCER_BROKEN):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def restart_process(error: BaseException) -> None:
    """Crash-only recovery: the process stops as on SIGTERM (its commands are redelivered)
    and its orchestrator starts it again with a new producer."""
    log.critical("outbox producer is broken; restarting the process", exc_info=error)
    os.kill(os.getpid(), signal.SIGTERM)


class Outbox:
    """Writes events inside the caller's transaction; NOTIFY wakes the relay on commit."""

    def __init__(self, schema: str) -> None:
        schema = checked_schema(schema)
        self._schema = schema
        self.channel = f"{schema}_outbox"
        self._insert = self.insert_statement()

    def bound(
        self, connection: "asyncpg.Connection | PoolConnectionProxy[asyncpg.Record]"
    ) -> "BoundOutbox":
        """This outbox inside one transaction: the EventOutbox port of the use cases."""
        return BoundOutbox(self, connection)

    async def add_many(
        self,
        connection: "asyncpg.Connection | PoolConnectionProxy[asyncpg.Record]",
        events: list[tuple[EventType, BaseModel, str, str | None]],
        *,
        correlation_id: str,
        principal: Principal | None = None,
    ) -> int:
        """Write many events (type, event, key, tenant) in one statement and one NOTIFY: a
        cleanup run can remove thousands of leftovers, and a round trip each would dominate."""
        if not events:
            return 0
        rows = self.rows(events, correlation_id=correlation_id, principal=principal)
        await connection.execute(self._insert, *columns(rows))
        return len(rows)

    def rows(
        self,
        events: list[tuple[EventType, BaseModel, str, str | None]],
        *,
        correlation_id: str,
        principal: Principal | None = None,
    ) -> list["OutboxRow"]:
        """The outbox rows of `events`, checked and encoded (not written)."""
        trace_headers: dict[str, str] = {}
        propagate.inject(trace_headers)
        return [
            OutboxRow(
                *self._envelope(event_type, event, tenant_id, correlation_id, principal),
                key,
                trace_headers,
            )
            for event_type, event, key, tenant_id in events
        ]

    def insert_statement(
        self,
        before: str = "",
        first_parameter: int = 1,
        *,
        only_if: str = "",
        rows_of: str = "",
    ) -> str:
        """The statement that writes rows and queues one NOTIFY (delivered at commit), after
        the caller's own CTEs `before` (which then end with a comma); the parameters of
        `columns` (five arrays and the namespace) start at `first_parameter`. `only_if`: a
        condition (on the caller's CTEs) without which no row is written; `rows_of`: a CTE of
        the caller's whose rows the statement returns (the NOTIFY rides on each of them)."""
        n = first_parameter
        condition = f" WHERE {only_if}" if only_if else ""
        written = (
            f"WITH {before} written AS (INSERT INTO {self._schema}.outbox"
            " (event_id, topic, key, envelope, headers, namespace) SELECT rows.*, "
            f"${n + 5}::text FROM unnest(${n}::uuid[], ${n + 1}::text[], ${n + 2}::text[],"
            f" ${n + 3}::jsonb[], ${n + 4}::jsonb[]) AS rows{condition} RETURNING id)"
        )
        notify = f"SELECT pg_notify('{self.channel}', '') FROM written LIMIT 1"
        if not rows_of:
            return f"{written} {notify}"
        # A WITH query that nothing reads is not run: the sub-select makes the NOTIFY happen.
        notified = f"(SELECT count(*) FROM ({notify}) n) AS notified"
        return f"{written} SELECT {rows_of}.*, {notified} FROM {rows_of}"

    @staticmethod
    def _envelope(
        event_type: EventType,
        event: BaseModel,
        tenant_id: str | None,
        correlation_id: str,
        principal: Principal | None,
    ) -> tuple[Envelope, str]:
        model, topic = EVENT_MODELS[event_type]
        if not isinstance(event, model):
            raise TypeError(f"{event_type} carries {model.__name__}, not {type(event).__name__}")
        envelope = Envelope(
            type=event_type,
            correlation_id=correlation_id,
            tenant_id=tenant_id,
            principal=principal,
            payload=event.model_dump(mode="json"),
        )
        return envelope, topic


class OutboxRow(NamedTuple):
    envelope: Envelope
    topic: str
    key: str
    headers: dict[str, str]


def columns(rows: list[OutboxRow]) -> tuple[Any, ...]:
    """The outbox insert's parameters: the five arrays it unnests, then the namespace whose
    relay alone publishes them."""
    return (
        [row.envelope.message_id for row in rows],
        [row.topic for row in rows],
        [row.key for row in rows],
        [row.envelope.model_dump(mode="json") for row in rows],
        [row.headers for row in rows],
        names.namespace(),
    )


class _OneAsMany:
    """An EventOutbox's `add`: one event is a batch of one (implementations write `add_many`)."""

    async def add(
        self,
        event_type: EventType,
        event: BaseModel,
        *,
        key: str,
        tenant_id: str | None,
        correlation_id: str,
        principal: Principal | None = None,
    ) -> None:
        await self.add_many(
            [(event_type, event, key, tenant_id)],
            correlation_id=correlation_id,
            principal=principal,
        )

    async def add_many(
        self,
        events: list[tuple[EventType, BaseModel, str, str | None]],
        *,
        correlation_id: str,
        principal: Principal | None = None,
    ) -> int:
        raise NotImplementedError


class PendingEvents(_OneAsMany):
    """The EventOutbox of a transaction whose last statement writes its events (the inbox
    runner's, with the reply): no round trip of their own. Checked and encoded when added, so
    a wrong event still fails the use case where it is added."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self.rows: list[OutboxRow] = []

    async def add_many(
        self,
        events: list[tuple[EventType, BaseModel, str, str | None]],
        *,
        correlation_id: str,
        principal: Principal | None = None,
    ) -> int:
        self.rows.extend(
            self._outbox.rows(events, correlation_id=correlation_id, principal=principal)
        )
        return len(events)

    def undo_after(self, count: int) -> None:
        """Forget the events added after the first `count` (their savepoint was undone)."""
        del self.rows[count:]


class BoundOutbox(_OneAsMany):
    """The outbox bound to the connection of one unit of work (implements EventOutbox)."""

    def __init__(
        self, outbox: Outbox, connection: "asyncpg.Connection | PoolConnectionProxy[asyncpg.Record]"
    ) -> None:
        self._outbox = outbox
        self._connection = connection

    async def add_many(
        self,
        events: list[tuple[EventType, BaseModel, str, str | None]],
        *,
        correlation_id: str,
        principal: Principal | None = None,
    ) -> int:
        return await self._outbox.add_many(
            self._connection, events, correlation_id=correlation_id, principal=principal
        )


class OutboxRelay:
    """Publishes unpublished rows in order; one relay per schema at a time (advisory lock)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: KafkaBroker,
        schema: str,
        *,
        poll_interval_s: float = 1.0,
        batch_size: int = 200,
        ack_timeout_s: float = 30.0,
        on_broken_producer: Callable[[BaseException], None] = restart_process,
    ) -> None:
        schema = checked_schema(schema)
        self._on_broken_producer = on_broken_producer
        self._schema = schema
        self._pool = pool
        self._broker = broker
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._ack_timeout_s = ack_timeout_s
        self._channel = f"{schema}_outbox"
        # Its own namespace's rows only: another deployment on this database relays its own.
        self._namespace = names.namespace()
        self._lock_key = f"outbox:{schema}:{self._namespace}"
        # The relay's lock and its batch in one round trip: the uncorrelated sub-select is
        # evaluated once, and when another relay holds the lock, no row is even scanned.
        self._select = (
            f"SELECT id, topic, key, envelope, headers FROM {schema}.outbox"
            " WHERE (SELECT pg_try_advisory_xact_lock(hashtext($2))) AND published_at IS NULL"
            " AND namespace = $3 ORDER BY id LIMIT $1"
        )
        self._mark = f"UPDATE {schema}.outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
        self._backlog = (
            f"SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)"
            f" FROM {schema}.outbox WHERE published_at IS NULL AND namespace = $1"
        )
        self._wake = asyncio.Event()
        self._backlog_due = 0.0
        self._task: asyncio.Task[None] | None = None
        self._listener: PoolConnectionProxy | None = None

    async def start(self) -> None:
        self._listener = await self._pool.acquire()
        await self._listener.add_listener(self._channel, self._on_notify)
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._channel}")

    async def stop(self) -> None:
        await stop_task(self._task)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(self._channel, self._on_notify)
            await self._pool.release(self._listener)

    async def backlog(self) -> tuple[int, float]:
        """Unpublished events and the age in seconds of the oldest one."""
        row = await self._pool.fetchrow(self._backlog, self._namespace)
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                published = await self.relay_once()
            except Exception as error:
                if producer_broken(error):
                    self._on_broken_producer(error)
                    return
                log.exception("outbox relay round failed; retrying")
                published = 0
            # Measured at most once per poll interval: a round per command under load made
            # the count a round trip per command.
            now = asyncio.get_running_loop().time()
            if now >= self._backlog_due:
                self._backlog_due = now + self._poll_interval_s
                await self._observe_backlog()
            if published >= self._batch_size:
                continue  # more may be waiting
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval_s):
                    await self._wake.wait()

    async def _observe_backlog(self) -> None:
        try:
            count, age_s = await self.backlog()
        except Exception:
            # The relay must outlive a failed measurement; the next round measures again.
            log.warning("outbox backlog not measured", exc_info=True)
            return
        metrics.observe_outbox(self._schema, count, age_s)

    async def _send(self, row: asyncpg.Record) -> "asyncio.Future[Any]":
        # Published inside the writer's trace, so the event's consumers join that trace
        # rather than one the relay would start.
        token = otel_context.attach(propagate.extract(row["headers"]))
        try:
            future: asyncio.Future[Any] = await self._broker.publish(
                Envelope.model_validate(row["envelope"]).model_dump_json().encode(),
                names.topic(row["topic"]),
                key=row["key"].encode(),
                headers={"content-type": "application/json"},
                no_confirm=True,
            )
        finally:
            otel_context.detach(token)
        return future

    async def relay_once(self) -> int:
        """Publish one batch; rows are marked only after Kafka acknowledged every one."""
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                self._select, self._batch_size, self._lock_key, self._namespace
            )
            if not rows:
                return 0
            # Sent without waiting one by one, then awaited together: the idempotent producer
            # keeps each partition's order, and nothing is marked before every ack is in.
            acks = [await self._send(row) for row in rows]
            async with asyncio.timeout(self._ack_timeout_s):  # never hold the lock forever
                await asyncio.gather(*acks)
            await connection.execute(self._mark, [row["id"] for row in rows])
            return len(rows)
