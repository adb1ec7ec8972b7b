"""Operator commands: `intake-ops groups` shows each consumer group's members, their
partitions and lag; `intake-ops dlq list` shows dead letters, `intake-ops dlq replay` sends them
back to their source topic once the cause is fixed.

Replay remembers how far it got in the consumer group `intake-ops-dlq-replay`, so running it
twice does not send a letter twice; `--from-offset` starts elsewhere on purpose.
"""

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.structs import OffsetAndMetadata

from intake_contracts import topics
from intake_runtime.messaging import dead_letters, names
from intake_runtime.settings import ServiceSettings, load_settings

REPLAY_GROUP: Final = "intake-ops-dlq-replay"  # under the namespace, like every group
# Headers that tie a command to a caller long gone: a replayed command needs no reply.
_CALLER_HEADERS: Final = frozenset({"reply_to", "correlation_id"})
_PREVIEW_BYTES: Final = 500


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="intake-ops", description=__doc__)
    areas = parser.add_subparsers(dest="area", required=True)
    areas.add_parser("groups", help="consumer groups: members, partitions and lag")
    dlq = areas.add_parser("dlq", help="dead letters").add_subparsers(dest="action", required=True)
    listing = dlq.add_parser("list", help="one JSON line per dead letter")
    listing.add_argument("--topic", help="source topic (default: every one)")
    listing.add_argument("--limit", type=int, default=100, help="at most this many per topic")
    replay = dlq.add_parser("replay", help="send dead letters back to their source topic")
    replay.add_argument("--topic", required=True, help="source topic, e.g. intake.uploads.events")
    replay.add_argument("--from-offset", type=int, help="start here instead of where it stopped")
    return parser.parse_args(argv)


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


async def list_letters(bootstrap: str, source: str | None, limit: int) -> int:
    shown = 0
    for topic in dead_letter_topics(source):
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
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


async def replay_letters(bootstrap: str, source: str, from_offset: int | None) -> int:
    [topic] = dead_letter_topics(source)
    partition = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=names.group(REPLAY_GROUP),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
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


@dataclass(frozen=True)
class MemberView:
    client_id: str
    partitions: list[str]
    lag: int


@dataclass(frozen=True)
class GroupView:
    group: str
    state: str
    members: list[MemberView]
    lag: int


def _assignment(raw: bytes) -> list[TopicPartition]:
    if not raw:
        return []
    decoded = ConsumerProtocolMemberAssignment.decode(raw)
    return [TopicPartition(topic, p) for topic, numbers in decoded.assignment for p in numbers]


def _label(partition: TopicPartition) -> str:
    return f"{names.logical(partition.topic)}[{partition.partition}]"


async def describe_groups(bootstrap: str) -> list[GroupView]:
    """Every consumer group of this namespace; lag is the high watermark minus the committed
    offset (the whole partition when nothing is committed yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        prefix = names.group("intake-")
        listed = sorted(g for g, _ in await admin.list_consumer_groups() if g.startswith(prefix))
        return [await _group_view(admin, consumer, group) for group in listed]
    finally:
        await consumer.stop()
        await admin.close()


async def _group_view(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group: str
) -> GroupView:
    [response] = await admin.describe_consumer_groups([group])
    _, _, state, _, _, raw_members = response.groups[0][:6]
    members = [(member[1], _assignment(member[-1])) for member in raw_members]
    committed = await admin.list_consumer_group_offsets(group)
    partitions = {tp for _, assigned in members for tp in assigned} | set(committed)
    ends = await consumer.end_offsets(list(partitions)) if partitions else {}

    def lag_of(partition: TopicPartition) -> int:
        done = committed.get(partition)
        return int(
            max(ends.get(partition, 0) - (done.offset if done and done.offset >= 0 else 0), 0)
        )

    views = [
        MemberView(client, sorted(map(_label, assigned)), sum(map(lag_of, assigned)))
        for client, assigned in sorted(members)
    ]
    return GroupView(names.logical(group), state, views, sum(map(lag_of, partitions)))


def print_groups(groups: Sequence[GroupView]) -> None:
    for group in groups:
        print(f"{group.group}: {group.state}, lag {group.lag}")  # noqa: T201 - the output
        for member in group.members:
            shown = ", ".join(member.partitions) or "no partitions"
            print(f"  {member.client_id}: lag {member.lag}; {shown}")  # noqa: T201


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings(ServiceSettings, "ops")
    names.use_namespace(settings.namespace)
    bootstrap = settings.kafka_bootstrap_servers
    if args.area == "groups":
        print_groups(asyncio.run(describe_groups(bootstrap)))
    elif args.action == "list":
        shown = asyncio.run(list_letters(bootstrap, args.topic, args.limit))
        sys.stderr.write(f"intake-ops: {shown} dead letter(s)\n")
    else:
        replayed = asyncio.run(replay_letters(bootstrap, args.topic, args.from_offset))
        sys.stderr.write(f"intake-ops: replayed {replayed} dead letter(s) to {args.topic}\n")
