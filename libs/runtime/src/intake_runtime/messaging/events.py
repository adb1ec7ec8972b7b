"""Event consumption in batches: each batch written in one go, the offset moved after it.

A batch, not one event at a time: a new consumer group replays the whole topic history, and
one transaction per event would make that replay crawl.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from pydantic import ValidationError

from intake_contracts.envelope import Envelope
from intake_contracts.events import EVENT_MODELS, EventType
from intake_runtime import metrics
from intake_runtime.messaging import kafka, names
from intake_runtime.messaging.dead_letters import DeadLetters, is_transient
from intake_runtime.messaging.envelopes import decode
from intake_runtime.settings import ServiceSettings

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
    settings: ServiceSettings,
) -> None:
    """Consume `topics` in `group_id`. A batch that fails on a dependency is delivered again
    (nack); one that fails otherwise is retried event by event, and the events that still fail,
    like the malformed ones, are parked as dead letters so the partition moves on."""
    dead_letters = DeadLetters(broker, names.group(group_id))

    async def on_batch(undecoded: Any) -> None:
        message: KafkaMessage = undecoded  # kafka.undecoded hands the message over as it came
        records = message.raw_message
        records = records if isinstance(records, tuple) else (records,)
        if records:
            metrics.observe_consumer_lag(group_id, message)
        received: list[tuple[ConsumerRecord[Any, Any], ReceivedEvent]] = []
        for record in records:
            envelope, error = _decoded(record.value, str(record.topic))
            if envelope is None:
                await dead_letters.park(record, error)
            else:
                received.append((record, (names.logical(str(record.topic)), envelope)))
        await _handle_isolating(handle, received, dead_letters)

    broker.subscriber(
        *(names.topic(topic) for topic in topics),
        group_id=names.group(group_id),
        batch=True,
        max_records=BATCH_SIZE,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        **kafka.event_consumer_options(settings),
        decoder=kafka.undecoded,
        title=title,
    )(on_batch)


async def _handle_isolating(
    handle: EventBatchHandler,
    received: list[tuple[ConsumerRecord[Any, Any], ReceivedEvent]],
    dead_letters: DeadLetters,
) -> None:
    """The whole batch in one go; when that fails for a reason retrying cannot fix, each event
    alone, so only the poisonous ones are parked. Consumers deduplicate by event id, so events
    of the batch that were written before the failure are not written twice."""
    if not received:
        return
    try:
        await handle([event for _, event in received])
    except Exception as error:
        if is_transient(error):
            raise
        log.warning("event batch failed; retrying event by event", extra={"error": str(error)})
    else:
        return
    for record, event in received:
        try:
            await handle([event])
        except Exception as error:
            if is_transient(error):
                raise
            await dead_letters.park(record, f"{type(error).__name__}: {error}")


def _decoded(raw: bytes | None, topic: str) -> tuple[Envelope | None, str]:
    """The envelope of a well-formed event (a known type's payload is checked here too), or
    why it is malformed. Retrying cannot fix a malformed message."""
    try:
        envelope = decode(raw or b"")
        known = EVENT_MODELS.get(EventType(envelope.type)) if envelope.type in _KNOWN else None
        if known is not None:
            known[0].model_validate(envelope.payload)
    except (ValueError, ValidationError) as error:
        log.warning("malformed event", extra={"topic": topic, "error": str(error)})
        return None, f"malformed: {error}"
    return envelope, ""
