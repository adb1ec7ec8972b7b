"""Dead letters for operators: list them, and replay them to their source topic.

Replay remembers how far it got in the consumer group `intake-ops-dlq-replay`, so running it
twice does not send a letter twice; `--from-offset` starts elsewhere on purpose.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from intake_contracts import topics
from intake_runtime.messaging import dead_letters, names
from intake_runtime.messaging.access import KafkaAccess

REPLAY_GROUP: Final = "intake-ops-dlq-replay"  # under the namespace, like every group
# Headers that tie a command to a caller long gone: a replayed command needs no reply.
_CALLER_HEADERS: Final = frozenset({"reply_to", "correlation_id"})
_PREVIEW_BYTES: Final = 500
# How long the broker may take to say which topics this principal may see.
_METADATA_TIMEOUT_S: Final = 30.0


def dead_letter_topics(source: str | None) -> list[str]:
    """The broker's names of the dead-letter topics of `source` (a contracts name), or of all."""
    if source is None:
        return [names.topic(topic) for topic in topics.DEAD_LETTER_TOPICS]
    if source not in topics.SHARED_TOPICS:
        raise SystemExit(f"intake-ops: unknown source topic {source!r}")
    return [names.topic(topics.dead_letter_topic(source))]


async def require_visible(access: KafkaAccess, wanted: Sequence[str]) -> None:
    """Stop with the reason when the broker refuses this principal a topic or has none by that
    name: a consumer assigned to such a partition would retry its metadata for ever.

    Raises:
        SystemExit: a topic is refused or missing, or the broker did not answer in time.
    """
    client = AIOKafkaClient(**access.client_options(), request_timeout_ms=10_000)
    try:
        async with asyncio.timeout(_METADATA_TIMEOUT_S):
            await client.bootstrap()
            client.set_topics(wanted)
            await client.force_metadata_update()
    except TimeoutError:
        raise SystemExit(
            f"intake-ops: Kafka at {access.bootstrap_servers} did not describe"
            f" {', '.join(wanted)} within {_METADATA_TIMEOUT_S:.0f} s"
        ) from None
    except (KafkaError, OSError) as error:  # refused login, unreachable broker
        raise SystemExit(f"intake-ops: Kafka at {access.bootstrap_servers}: {error}") from None
    finally:
        await client.close()
    refused = [topic for topic in wanted if topic in client.cluster.unauthorized_topics]
    if refused:
        raise SystemExit(
            f"intake-ops: the broker refuses {access.username or 'an anonymous client'!r}"
            f" {', '.join(refused)}: dead letters are read and replayed as `ops`, in a"
            " namespace whose ACLs `intake-ops provision-topics` granted"
        )
    missing = [topic for topic in wanted if client.cluster.partitions_for_topic(topic) is None]
    if missing:
        raise SystemExit(
            f"intake-ops: no topic {', '.join(missing)} on this Kafka"
            " (another INTAKE_NAMESPACE, or `intake-ops provision-topics` not run)"
        )


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
    wanted = dead_letter_topics(source)
    await require_visible(access, wanted)
    for topic in wanted:
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
    await require_visible(access, [topic, names.topic(source)])
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
