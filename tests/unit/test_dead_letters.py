"""Which failures are worth a retry, and what a dead letter and its replay carry."""

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError

from intake_contracts import topics
from intake_contracts.errors import ErrorCode, TransientError
from intake_runtime.messaging import dead_letters
from intake_runtime.ops import letters


@dataclass
class Record:
    topic: str = topics.UPLOAD_EVENTS
    partition: int = 3
    offset: int = 42
    key: bytes | None = b"session-1"
    value: bytes | None = b'{"not": "an envelope"}'
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        KafkaConnectionError(),
        TransientError(ErrorCode.STORAGE_UNAVAILABLE, "S3 down"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        asyncpg.exceptions.InterfaceError("pool is closing"),
    ],
)
def test_failures_of_a_dependency_are_transient(error: BaseException) -> None:
    assert dead_letters.is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad value"),
        KeyError("missing"),
        asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncio.CancelledError(),
    ],
)
def test_bugs_and_bad_data_are_not_transient(error: BaseException) -> None:
    assert not dead_letters.is_transient(error)


def test_a_dead_letter_keeps_the_original_headers_and_says_where_it_came_from() -> None:
    record = Record(headers=[("traceparent", b"00-abc-def-01"), ("reply_to", b"intake.replies.x")])
    at = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)

    headers = dead_letters.dead_letter_headers(record, group="intake-audit", error="boom", now=at)

    assert headers["traceparent"] == "00-abc-def-01"
    assert headers[dead_letters.ERROR_HEADER] == "boom"
    assert headers[dead_letters.SOURCE_TOPIC_HEADER] == topics.UPLOAD_EVENTS
    assert headers[dead_letters.SOURCE_PARTITION_HEADER] == "3"
    assert headers[dead_letters.SOURCE_OFFSET_HEADER] == "42"
    assert headers[dead_letters.GROUP_HEADER] == "intake-audit"
    assert headers[dead_letters.AT_HEADER] == at.isoformat()


def test_a_long_error_is_cut_so_the_letter_stays_small() -> None:
    headers = dead_letters.dead_letter_headers(Record(), group="g", error="x" * 100_000)

    assert len(headers[dead_letters.ERROR_HEADER]) == dead_letters.MAX_ERROR_LENGTH


def test_a_letter_parked_twice_carries_only_its_latest_parking() -> None:
    first = dead_letters.dead_letter_headers(Record(), group="first", error="one")
    parked_again = Record(headers=[(name, value.encode()) for name, value in first.items()])

    headers = dead_letters.dead_letter_headers(parked_again, group="second", error="two")

    assert headers[dead_letters.GROUP_HEADER] == "second"
    assert headers[dead_letters.ERROR_HEADER] == "two"


def test_every_shared_topic_has_its_dead_letter_topic() -> None:
    assert len(topics.DEAD_LETTER_TOPICS) == len(topics.SHARED_TOPICS)
    assert topics.dead_letter_topic(topics.INITIATION_COMMANDS) == "intake.initiation.commands.dlq"


def _consumed(headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topics.dead_letter_topic(topics.INITIATION_COMMANDS),
        partition=0,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"payload",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=7,
        headers=headers,
    )


def test_a_replay_drops_the_parking_headers_and_the_departed_caller() -> None:
    record = _consumed(
        [
            ("traceparent", b"00-abc-def-01"),
            ("reply_to", b"intake.replies.gateway.gone"),
            ("correlation_id", b"c-1"),
            (dead_letters.ERROR_HEADER, b"boom"),
            (dead_letters.SOURCE_TOPIC_HEADER, topics.INITIATION_COMMANDS.encode()),
        ]
    )

    assert letters.replay_headers(record) == [("traceparent", b"00-abc-def-01")]


def test_a_listed_letter_shows_its_origin_and_error() -> None:
    record = _consumed(
        [
            (dead_letters.ERROR_HEADER, b"undecodable: bad json"),
            (dead_letters.SOURCE_TOPIC_HEADER, topics.INITIATION_COMMANDS.encode()),
            (dead_letters.GROUP_HEADER, b"intake-initiation"),
        ]
    )

    described = letters.describe(record)

    assert described["source_topic"] == topics.INITIATION_COMMANDS
    assert described["error"] == "undecodable: bad json"
    assert described["group"] == "intake-initiation"
    assert described["value"] == "payload"
    assert described["offset"] == 7


def test_replay_refuses_a_topic_that_is_not_ours() -> None:
    with pytest.raises(SystemExit, match="unknown source topic"):
        letters.dead_letter_topics("somebody.elses.topic")
