"""Dead letters for operators: list them, and replay them to their source topic.

Replay remembers how far it got in the consumer group `intake-ops-dlq-replay`, so running it
twice does not send a letter twice; `--from-offset` starts elsewhere on purpose.
"""

import json
from collections.abc import AsyncIterator
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from intake_contracts import topics
from intake_runtime.messaging import dead_letters, names
from intake_runtime.messaging.access import KafkaAccess

REPLAY_GROUP: Final = "intake-ops-dlq-replay"  # under the namespace, like every group
# Headers that tie a command to a caller long gone: a replayed command needs no reply.
_CALLER_HEADERS: Final = frozenset({"reply_to", "correlation_id"})
_PREVIEW_BYTES: Final = 500


def dead_letter_topics(source: str | None) -> list[str]:
    """The broker's names of the dead-letter topics of `source` (a contracts name), or of all."""
    if source is None:
        return [names.topic(topic) for topic in topics.DEAD_LETTER_TOPICS]
    if source not in topics.SHARED_TOPICS:
        raise SystemExit(f"intake-ops: unknown source topic {source!r}")
    return [names.topic(topics.dead_letter_topic(source))]


def describe(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    headers = {name: value.decode(errors="replace") for name, value in record.headers}
    value = record.value or b""
    return {
        "dead_letter_topic": record.topic,
        "offset": record.offset,
        "source_topic": headers.get(dead_letters.SOURCE_TOPIC_HEADER),
        "source_partition": headers.get(dead_letters.SOURCE_PARTITION_HEADER),
        "source_offset": headers.get(dead_letters.SOURCE_OFFSET_HEADER),
        "group": headers.get(dead_letters.GROUP_HEADER),
        "parked_at": headers.get(dead_letters.AT_HEADER),
        "error": headers.get(dead_letters.ERROR_HEADER),
        "key": record.key.decode(errors="replace") if record.key else None,
        "value": value[:_PREVIEW_BYTES].decode(errors="replace"),
        "value_bytes": len(value),
    }


def replay_headers(record: ConsumerRecord[bytes, bytes]) -> list[tuple[str, bytes]]:
    """The message's own headers, without the parking ones and the departed caller's."""
    dropped = dead_letters.DEAD_LETTER_HEADERS | _CALLER_HEADERS
    return [(name, value) for name, value in record.headers if name not in dropped]


async def _letters(
    consumer: AIOKafkaConsumer, partition: TopicPartition, start: int | None
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every letter from `start` (or the consumer's position) up to the end as of now."""
    end = (await consumer.end_offsets([partition]))[partition]
    if start is not None:
        consumer.seek(partition, start)
    while await consumer.position(partition) < end:
        batch = await consumer.getmany(partition, timeout_ms=1_000)
        for record in batch.get(partition, []):
            if record.offset >= end:
                return
            yield record


async def list_letters(access: KafkaAccess, source: str | None, limit: int) -> int:
    shown = 0
    for topic in dead_letter_topics(source):
        consumer = AIOKafkaConsumer(**access.client_options(), enable_auto_commit=False)
        await consumer.start()
        try:
            partition = TopicPartition(topic, 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            seen = 0
            async for record in _letters(consumer, partition, None):
                print(json.dumps(describe(record)))  # noqa: T201 - the command's output
                seen += 1
                if seen >= limit:
                    break
            shown += seen
        finally:
            await consumer.stop()
    return shown


async def replay_letters(access: KafkaAccess, source: str, from_offset: int | None) -> int:
    [topic] = dead_letter_topics(source)
    partition = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(
        **access.client_options(),
        group_id=names.group(REPLAY_GROUP),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(**access.client_options(), acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        consumer.assign([partition])
        async for record in _letters(consumer, partition, from_offset):
            await producer.send_and_wait(
                names.topic(source), record.value, key=record.key, headers=replay_headers(record)
            )
            # Remembered after each send: an interrupted replay resumes after the last one sent.
            await consumer.commit({partition: OffsetAndMetadata(record.offset + 1, "")})
            replayed += 1
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed
