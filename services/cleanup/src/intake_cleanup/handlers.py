"""Broker adapters: the run-job command and the event subscribers that feed the session index."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast
from uuid import UUID

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from intake_cleanup.index import SessionIndex
from intake_cleanup.service import CleanupService
from intake_contracts import topics
from intake_contracts.commands import CommandType
from intake_contracts.envelope import Envelope
from intake_contracts.replies import Reply
from intake_runtime.messaging.dispatch import CommandDispatcher
from intake_runtime.messaging.envelopes import decode

log = logging.getLogger(__name__)

INDEX_GROUP = "intake-cleanup-index"
ASSETS_GROUP = "intake-cleanup-assets"
BATCH_SIZE = 500


class NoTransaction:
    """Running a job is idempotent by nature and manages its own transactions: no inbox."""

    async def run(
        self,
        message_id: UUID | None,  # noqa: ARG002
        command_type: str,  # noqa: ARG002
        work: Callable[[None], Awaitable[Reply]],
    ) -> Reply:
        return await work(None)


def build_dispatcher(service: CleanupService) -> CommandDispatcher[None]:
    dispatcher: CommandDispatcher[None] = CommandDispatcher("cleanup", NoTransaction())
    dispatcher.register(CommandType.RUN_CLEANUP_JOB, service.run_command, inbox=False)
    return dispatcher


def subscribe_index(broker: KafkaBroker, index: SessionIndex) -> None:
    """Lifecycle and asset events into the index; a failed write is redelivered (nack)."""

    async def on_events(body: Any, message: KafkaMessage) -> None:  # noqa: ARG001
        # A batch message's body is the list of record values; the envelope has its own decoder.
        records = cast("list[bytes]", message.body)
        envelopes = [envelope for raw in records if (envelope := _decoded(raw))]
        await index.apply(envelopes)

    for topic, group in ((topics.UPLOAD_EVENTS, INDEX_GROUP), (topics.ASSET_EVENTS, ASSETS_GROUP)):
        broker.subscriber(
            topic,
            group_id=group,
            batch=True,
            max_records=BATCH_SIZE,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=10,
            title=f"cleanup index of {topic}",
        )(on_events)


def _decoded(raw: bytes) -> Envelope | None:
    try:
        return decode(raw)
    except (ValueError, ValidationError) as error:
        log.warning("undecodable event skipped", extra={"error": str(error)})
        return None
