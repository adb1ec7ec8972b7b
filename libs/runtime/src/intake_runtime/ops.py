"""Operator commands: `intake-ops dlq list` shows dead letters, `intake-ops dlq replay` sends
them back to their source topic once the cause is fixed. `intake-ops migrate SERVICE` applies
one service's database migrations and `intake-ops provision-topics` creates the missing topics,
each then exits: what a deployment runs once before rolling the services out (the services do
both at start-up too, so skipping them is harmless).

Replay remembers how far it got in the consumer group `intake-ops-dlq-replay`, so running it
twice does not send a letter twice; `--from-offset` starts elsewhere on purpose.
"""

import argparse
import asyncio
import importlib
import json
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from intake_contracts import topics
from intake_runtime.messaging import dead_letters, kafka
from intake_runtime.settings import PostgresSettings, ServiceSettings, load_settings

REPLAY_GROUP: Final = "intake-ops-dlq-replay"
# The services owning a Postgres schema; each package `intake_<service>` keeps its SQL in
# `migrations/` and its schema name in `intake_<service>.settings.SCHEMA`.
MIGRATING_SERVICES: Final = ("initiation", "completion", "cleanup", "audit")
# Headers that tie a command to a caller long gone: a replayed command needs no reply.
_CALLER_HEADERS: Final = frozenset({"reply_to", "correlation_id"})
_PREVIEW_BYTES: Final = 500


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="intake-ops", description=__doc__)
    areas = parser.add_subparsers(dest="area", required=True)
    dlq = areas.add_parser("dlq", help="dead letters").add_subparsers(dest="action", required=True)
    listing = dlq.add_parser("list", help="one JSON line per dead letter")
    listing.add_argument("--topic", help="source topic (default: every one)")
    listing.add_argument("--limit", type=int, default=100, help="at most this many per topic")
    replay = dlq.add_parser("replay", help="send dead letters back to their source topic")
    replay.add_argument("--topic", required=True, help="source topic, e.g. intake.uploads.events")
    replay.add_argument("--from-offset", type=int, help="start here instead of where it stopped")
    migrate = areas.add_parser("migrate", help="apply one service's migrations (DATABASE_URL)")
    migrate.add_argument("service", choices=MIGRATING_SERVICES)
    areas.add_parser("provision-topics", help="create the missing shared and dead-letter topics")
    return parser.parse_args(argv)


def service_migrations(service: str) -> tuple[str, Path]:
    """The schema and the migrations folder of `service`."""
    if service not in MIGRATING_SERVICES:
        raise SystemExit(f"intake-ops: {service!r} has no database schema")
    package = importlib.import_module(f"intake_{service}")
    settings = importlib.import_module(f"intake_{service}.settings")
    return str(settings.SCHEMA), Path(str(package.__file__)).parent / "migrations"


async def migrate_service(settings: PostgresSettings, service: str) -> list[str]:
    """What the service does at start-up before it consumes anything, and nothing else."""
    # Imported here: without the runtime's postgres extra, the dead-letter commands still work.
    from intake_runtime.postgres.lifecycle import migrate_only  # noqa: PLC0415

    schema, directory = service_migrations(service)
    return await migrate_only(settings, schema, directory)


async def provision_topics(settings: ServiceSettings) -> None:
    await kafka.wait_for_kafka(settings.kafka_bootstrap_servers)
    await kafka.provision_shared_topics(
        settings.kafka_bootstrap_servers, settings.topic_partitions, settings.topic_replication
    )


def dead_letter_topics(source: str | None) -> list[str]:
    if source is None:
        return list(topics.DEAD_LETTER_TOPICS)
    if source not in topics.SHARED_TOPICS:
        raise SystemExit(f"intake-ops: unknown source topic {source!r}")
    return [topics.dead_letter_topic(source)]


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
        group_id=REPLAY_GROUP,
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
                source, record.value, key=record.key, headers=replay_headers(record)
            )
            # Remembered after each send: an interrupted replay resumes after the last one sent.
            await consumer.commit({partition: OffsetAndMetadata(record.offset + 1, "")})
            replayed += 1
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.area == "migrate":
        applied = asyncio.run(migrate_service(load_settings(PostgresSettings, "ops"), args.service))
        sys.stderr.write(f"intake-ops: {args.service}: {len(applied)} migration(s) applied\n")
        for version in applied:
            print(version)  # noqa: T201 - the command's output
        return
    settings = load_settings(ServiceSettings, "ops")
    if args.area == "provision-topics":
        asyncio.run(provision_topics(settings))
        sys.stderr.write(
            f"intake-ops: topics ready ({settings.topic_partitions} partitions,"
            f" {settings.topic_replication} replica(s) each where created)\n"
        )
        return
    bootstrap = settings.kafka_bootstrap_servers
    if args.action == "list":
        shown = asyncio.run(list_letters(bootstrap, args.topic, args.limit))
        sys.stderr.write(f"intake-ops: {shown} dead letter(s)\n")
    else:
        replayed = asyncio.run(replay_letters(bootstrap, args.topic, args.from_offset))
        sys.stderr.write(f"intake-ops: replayed {replayed} dead letter(s) to {args.topic}\n")
