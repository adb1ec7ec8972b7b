"""The outbox's rows without a server: what a use case's event becomes in its transaction."""

import asyncio
from typing import Any, cast

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, OutOfOrderSequenceNumber, UnknownProducerId

from intake_contracts import topics
from intake_contracts.events import EventType, ResidueRemoved
from intake_runtime.messaging import names
from intake_runtime.postgres.outbox import Outbox, OutboxRelay, producer_broken
from tests.support.events import lifecycle_event


class RecordingConnection:
    """Stands in for the transaction's connection: keeps the statements it was given."""

    def __init__(self) -> None:
        self.executed: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, query: str, *args: Any) -> str:
        self.executed.append((query, args))
        return "SELECT 1"


async def test_an_event_is_one_row_on_its_types_topic_in_the_callers_transaction() -> None:
    connection = RecordingConnection()
    outbox = Outbox("initiation").bound(cast(asyncpg.Connection, connection))
    event = lifecycle_event()
    await outbox.add(
        EventType.UPLOAD_CANCELLED, event, key="k1", tenant_id="t1", correlation_id="c1"
    )
    [(query, (ids, row_topics, keys, envelopes, _, namespace))] = connection.executed
    assert namespace == names.namespace()  # only this deployment's relay publishes it
    assert "initiation.outbox" in query
    assert "pg_notify('initiation_outbox'" in query  # the relay wakes on commit
    assert (row_topics, keys) == ([topics.UPLOAD_EVENTS], ["k1"])
    [envelope] = envelopes
    assert envelope["message_id"] == str(ids[0])
    assert (envelope["type"], envelope["tenant_id"], envelope["correlation_id"]) == (
        "upload.cancelled",
        "t1",
        "c1",
    )
    assert envelope["payload"] == event.model_dump(mode="json")


async def test_an_event_of_the_wrong_model_is_refused_before_anything_is_written() -> None:
    connection = RecordingConnection()
    outbox = Outbox("initiation").bound(cast(asyncpg.Connection, connection))
    with pytest.raises(TypeError):
        await outbox.add(
            EventType.CLEANUP_RESIDUE_REMOVED,
            lifecycle_event(),
            key="k",
            tenant_id=None,
            correlation_id="",
        )
    assert connection.executed == []


async def test_many_events_are_one_statement_and_none_are_no_statement() -> None:
    connection = RecordingConnection()
    outbox = Outbox("cleanup")
    db = cast(asyncpg.Connection, connection)
    assert await outbox.add_many(db, [], correlation_id="c") == 0
    removed = ResidueRemoved(
        job="orphans",
        action="deleted",
        bucket="bk",
        key="temp/x",
        upload_id=None,
        upload_session_id=None,
        tenant_id=None,
        reason="orphaned",
    )
    events = [(EventType.CLEANUP_RESIDUE_REMOVED, removed, f"k{n}", None) for n in range(3)]
    assert await outbox.add_many(db, events, correlation_id="c") == 3
    [(_, (ids, row_topics, keys, _, _, _))] = connection.executed
    assert row_topics == [topics.CLEANUP_EVENTS] * 3
    assert keys == ["k0", "k1", "k2"]
    assert len(set(ids)) == 3


class RelayWhoseProducerBroke(OutboxRelay):
    """A relay whose publishing fails as the soak saw it after a Kafka restart."""

    def __init__(self, error: Exception, broken: list[BaseException]) -> None:
        super().__init__(
            cast(asyncpg.Pool, None),
            cast(Any, None),
            "initiation",
            poll_interval_s=0.01,
            on_broken_producer=broken.append,
        )
        self.error = error
        self.rounds = 0

    async def relay_once(self) -> int:
        self.rounds += 1
        raise self.error


async def test_a_broken_producer_stops_the_relay_and_asks_for_a_restart() -> None:
    # Found by the soak: after Kafka restarted, every relay round failed with
    # OutOfOrderSequenceNumber and the outbox only grew; retrying with that producer never helps.
    broken: list[BaseException] = []
    relay = RelayWhoseProducerBroke(OutOfOrderSequenceNumber(), broken)
    await asyncio.wait_for(relay._run(), timeout=5)
    assert relay.rounds == 1
    assert len(broken) == 1
    assert isinstance(broken[0], OutOfOrderSequenceNumber)


async def test_any_other_publishing_error_is_retried_in_the_next_round() -> None:
    broken: list[BaseException] = []
    relay = RelayWhoseProducerBroke(KafkaConnectionError(), broken)
    task = asyncio.create_task(relay._run())
    try:
        while relay.rounds < 3:
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert broken == []


def test_a_broken_producer_is_recognised_behind_the_error_that_wraps_it() -> None:
    wrapped = RuntimeError("publish failed")
    wrapped.__cause__ = UnknownProducerId()
    assert producer_broken(wrapped)
    assert not producer_broken(TimeoutError())
