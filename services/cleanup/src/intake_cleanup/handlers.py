"""Broker adapters: the run-job command and the event subscribers that feed the session index."""

import logging

from faststream.kafka import KafkaBroker

from intake_cleanup.index import SessionIndex
from intake_cleanup.service import CleanupService
from intake_cleanup.settings import SERVICE
from intake_contracts import topics
from intake_contracts.commands import Commands
from intake_runtime.messaging.dispatch import CommandDispatcher, NoTransaction
from intake_runtime.messaging.events import ReceivedEvent, subscribe_event_batches
from intake_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

INDEX_GROUP = "intake-cleanup-index"
ASSETS_GROUP = "intake-cleanup-assets"


def build_dispatcher(service: CleanupService) -> CommandDispatcher[None]:
    # Running a job is idempotent by nature and manages its own transactions: no inbox.
    dispatcher: CommandDispatcher[None] = CommandDispatcher(SERVICE, NoTransaction())
    dispatcher.register(Commands.RUN_CLEANUP_JOB, service.run_command, inbox=False)
    return dispatcher


def subscribe_index(broker: KafkaBroker, index: SessionIndex, settings: ServiceSettings) -> None:
    """Lifecycle and asset events into the index; a failed write is redelivered (nack)."""

    async def apply(received: list[ReceivedEvent]) -> None:
        await index.apply([envelope for _, envelope in received])

    for topic, group in ((topics.UPLOAD_EVENTS, INDEX_GROUP), (topics.ASSET_EVENTS, ASSETS_GROUP)):
        subscribe_event_batches(
            broker, [topic], group, apply, title=f"cleanup index of {topic}", settings=settings
        )
