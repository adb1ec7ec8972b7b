"""Event consumption in batches: each batch written in one go, the offset moved after it.

A batch, not one event at a time: a new consumer group replays the whole topic history, and
one transaction per event would make that replay crawl.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from intake_contracts.envelope import Envelope
from intake_contracts.events import EVENT_MODELS, EventType
from intake_runtime import metrics
from intake_runtime.messaging import kafka
from intake_runtime.messaging.envelopes import decode

log = logging.getLogger(__name__)

BATCH_SIZE = 500
_KNOWN = frozenset(str(event_type) for event_type in EventType)

ReceivedEvent = tuple[str, Envelope]  # (topic, envelope)
EventBatchHandler = Callable[[list[ReceivedEvent]], Awaitable[object]]


def subscribe_event_batches(
    broker: KafkaBroker,
    topics: Sequence[str],
    group_id: str,
    handle: EventBatchHandler,
    *,
    title: str,
) -> None:
    """Consume `topics` in `group_id`; a batch whose handler fails is delivered again (nack)."""

    async def on_batch(body: Any, message: KafkaMessage) -> None:  # noqa: ARG001
        records = message.raw_message
        records = records if isinstance(records, tuple) else (records,)
        if records:
            metrics.observe_consumer_lag(group_id, message)
        received = [
            (str(record.topic), envelope)
            for record in records
            if (envelope := _decoded(record.value, str(record.topic))) is not None
        ]
        await handle(received)

    broker.subscriber(
        *topics,
        group_id=group_id,
        batch=True,
        max_records=BATCH_SIZE,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        **kafka.CONSUMER_OPTIONS,
        title=title,
    )(on_batch)


def _decoded(raw: bytes | None, topic: str) -> Envelope | None:
    """The envelope of a well-formed event; a known type's payload is checked here too.

    Retrying cannot fix a malformed message and holding the partition for it would stop every
    event behind it, so it is logged and skipped.
    """
    try:
        envelope = decode(raw or b"")
        known = EVENT_MODELS.get(EventType(envelope.type)) if envelope.type in _KNOWN else None
        if known is not None:
            known[0].model_validate(envelope.payload)
    except (ValueError, ValidationError) as error:
        log.warning("malformed event skipped", extra={"topic": topic, "error": str(error)})
        return None
    return envelope
