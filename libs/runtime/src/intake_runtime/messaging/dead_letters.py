"""Dead letters: a message that cannot be decoded or keeps failing, parked with its error.

Skipping such a message loses it; redelivering it forever stops its partition. Parked in
`<source topic>.dlq` with the error and where it came from, it can be read and replayed
(`intake-ops dlq`) once the cause is fixed. Commands are idempotent and events deduplicated by
id, so a replay never doubles an effect.
"""

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final, Protocol

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from intake_contracts import topics
from intake_contracts.errors import TransientError
from intake_runtime import metrics

log = logging.getLogger(__name__)

# Headers a dead letter carries besides the original message's own.
ERROR_HEADER: Final = "x-dead-letter-error"
SOURCE_TOPIC_HEADER: Final = "x-dead-letter-source-topic"
SOURCE_PARTITION_HEADER: Final = "x-dead-letter-source-partition"
SOURCE_OFFSET_HEADER: Final = "x-dead-letter-source-offset"
GROUP_HEADER: Final = "x-dead-letter-group"
AT_HEADER: Final = "x-dead-letter-at"
DEAD_LETTER_HEADERS: Final = frozenset(
    {
        ERROR_HEADER,
        SOURCE_TOPIC_HEADER,
        SOURCE_PARTITION_HEADER,
        SOURCE_OFFSET_HEADER,
        GROUP_HEADER,
        AT_HEADER,
    }
)
MAX_ERROR_LENGTH: Final = 2_000

# Errors of a dependency that is down or restarting: retrying later succeeds, so such a message
# is redelivered, never parked. Database errors are named here rather than imported because the
# messaging layer must not pull a database driver into the gateway.
_TRANSIENT_TYPES: Final = (OSError, TimeoutError, TransientError, KafkaError)
_TRANSIENT_DRIVER_ERRORS: Final = frozenset(
    {
        "InterfaceError",  # asyncpg: the connection is closed or was lost
        "PostgresConnectionError",  # SQLSTATE class 08
        "OperatorInterventionError",  # class 57: shutdown, restart, cannot connect now
        "InsufficientResourcesError",  # class 53: too many connections, disk full
        "DeadlockDetectedError",
        "SerializationError",
    }
)


class Record(Protocol):
    """What a dead letter needs of a consumed Kafka record (aiokafka's ConsumerRecord)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


def is_transient(error: BaseException) -> bool:
    """Whether `error` comes from a dependency that may answer on a later try."""
    if isinstance(error, _TRANSIENT_TYPES):
        return True
    return any(
        cls.__module__.startswith("asyncpg") and cls.__name__ in _TRANSIENT_DRIVER_ERRORS
        for cls in type(error).__mro__
    )


def dead_letter_headers(
    record: Record, *, group: str, error: str, now: datetime | None = None
) -> dict[str, str]:
    """The original headers plus where the message came from and why it was parked."""
    original = {
        name: value.decode(errors="replace")
        for name, value in record.headers
        if name not in DEAD_LETTER_HEADERS
    }
    return {
        **original,
        ERROR_HEADER: error[:MAX_ERROR_LENGTH],
        SOURCE_TOPIC_HEADER: record.topic,
        SOURCE_PARTITION_HEADER: str(record.partition),
        SOURCE_OFFSET_HEADER: str(record.offset),
        GROUP_HEADER: group,
        AT_HEADER: (now or datetime.now(UTC)).isoformat(),
    }


class DeadLetters:
    """Parks messages of one consumer group in the dead-letter topic of their source topic."""

    def __init__(self, broker: KafkaBroker, group: str) -> None:
        self._broker = broker
        self._group = group

    async def park(self, record: Record, error: str) -> None:
        """Raises when Kafka does not take it: the caller must then not let the message go."""
        destination = topics.dead_letter_topic(record.topic)
        await self._broker.publish(
            record.value or b"",
            destination,
            key=record.key,
            headers=dead_letter_headers(record, group=self._group, error=error),
        )
        metrics.observe_dead_letter(self._group, record.topic)
        log.error(
            "message parked as a dead letter",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "group": self._group,
                "error": error[:MAX_ERROR_LENGTH],
            },
        )
