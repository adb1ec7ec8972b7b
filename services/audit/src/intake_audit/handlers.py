"""Broker adapters: the event subscriber that records the events, and the query of a session's
events."""

from faststream.kafka import KafkaBroker

from intake_audit.service import AuditService
from intake_audit.settings import SERVICE
from intake_contracts import topics
from intake_contracts.commands import Commands
from intake_runtime.messaging.dispatch import CommandDispatcher, NoTransaction
from intake_runtime.messaging.events import subscribe_event_batches
from intake_runtime.settings import ServiceSettings

EVENT_TOPICS = (topics.UPLOAD_EVENTS, topics.ASSET_EVENTS, topics.CLEANUP_EVENTS)


def build_dispatcher(service: AuditService) -> CommandDispatcher[None]:
    dispatcher: CommandDispatcher[None] = CommandDispatcher(SERVICE, NoTransaction())
    # A read changes nothing, so it needs no inbox row.
    dispatcher.register(Commands.GET_EVENTS, service.get_events, inbox=False)
    return dispatcher


def subscribe_events(
    broker: KafkaBroker, service: AuditService, group_id: str, settings: ServiceSettings
) -> None:
    """Consume every lifecycle topic; the offsets move on only after the rows are written."""
    subscribe_event_batches(
        broker,
        EVENT_TOPICS,
        group_id,
        service.record_batch,
        title="audit events",
        settings=settings,
    )
