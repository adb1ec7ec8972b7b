"""Broker adapters: the event subscriber that fills the log, and the trail query."""

from typing import Any

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from intake_audit.service import AuditService
from intake_contracts import topics
from intake_contracts.commands import CommandType
from intake_runtime import metrics
from intake_runtime.messaging.dispatch import CommandDispatcher, TransactionRunner

EVENT_TOPICS = (topics.UPLOAD_EVENTS, topics.ASSET_EVENTS, topics.CLEANUP_EVENTS)


def build_dispatcher(
    service: AuditService, runner: TransactionRunner[asyncpg.Connection]
) -> CommandDispatcher[asyncpg.Connection]:
    dispatcher: CommandDispatcher[asyncpg.Connection] = CommandDispatcher("audit", runner)
    # A read changes nothing, so it needs no inbox row.
    dispatcher.register(CommandType.GET_TRAIL, service.get_trail, inbox=False)
    return dispatcher


def subscribe_events(broker: KafkaBroker, service: AuditService, group_id: str) -> None:
    """Consume every lifecycle topic; the offset moves on only after the row is written."""

    async def on_event(body: Any, message: KafkaMessage) -> None:  # noqa: ARG001
        metrics.observe_consumer_lag(group_id, message)
        # The raw bytes, not FastStream's decoded body: the envelope has its own decoder.
        await service.record(message.body, _topic_of(message))

    broker.subscriber(
        *EVENT_TOPICS,
        group_id=group_id,
        # A failed insert rewinds to the event, so no event is skipped while Postgres is away.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
        title="audit event log",
    )(on_event)


def _topic_of(message: KafkaMessage) -> str:
    # A batch subscriber would hand a tuple of records; this one hands a single record.
    record = message.raw_message
    return str(record[0].topic if isinstance(record, tuple) else record.topic)
