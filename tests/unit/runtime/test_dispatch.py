"""The dispatcher on FastStream's test broker: a command in, its reply on `reply_to`."""

import uuid
from typing import Any

from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from intake_audit.handlers import build_dispatcher
from intake_audit.service import AuditService
from intake_contracts import topics
from intake_contracts.commands import Commands, EventsView, SessionRef
from intake_contracts.envelope import Principal
from intake_contracts.errors import ErrorCode
from intake_contracts.replies import Reply
from intake_runtime.messaging import names
from intake_runtime.messaging.dispatch import Command, CommandDispatcher, NoTransaction
from intake_runtime.messaging.envelopes import command_envelope, decode, encode
from intake_runtime.settings import ServiceSettings
from tests.support.fakes.audit import FakeEvents

REPLIES = "test.replies"


async def exchange(body: bytes) -> list[tuple[Reply, str]]:
    """Send `body` as a command; the replies that came back, with their correlation ids."""
    broker = KafkaBroker()
    build_dispatcher(AuditService(FakeEvents())).subscribe(
        broker, [topics.AUDIT_QUERIES], "test-group", workers=1, settings=ServiceSettings()
    )
    replies: list[tuple[Reply, str]] = []

    @broker.subscriber(REPLIES)
    async def caller(body: Any, message: KafkaMessage) -> None:
        replies.append((Reply.model_validate(decode(message.body).payload), message.correlation_id))

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            body, names.topic(topics.AUDIT_QUERIES), reply_to=REPLIES, correlation_id="c-1"
        )
    return replies


async def test_a_command_is_answered_on_its_reply_topic_with_its_correlation_id() -> None:
    principal = Principal(user_id="u", tenant_id="t1")
    envelope = command_envelope(
        Commands.GET_EVENTS.name,
        SessionRef(upload_session_id=uuid.uuid4()),
        correlation_id="c-1",
        principal=principal,
    )
    [(reply, correlation_id)] = await exchange(encode(envelope))
    assert reply.unwrap(Commands.GET_EVENTS.result).events == []
    assert correlation_id == "c-1"


async def test_an_unknown_command_is_refused_not_dropped() -> None:
    envelope = command_envelope(
        "audit.no_such_thing",
        SessionRef(upload_session_id=uuid.uuid4()),
        correlation_id="c-1",
        principal=None,
    )
    [(reply, _)] = await exchange(encode(envelope))
    assert reply.error is not None
    assert reply.error.code == ErrorCode.VALIDATION_FAILED


async def test_work_a_handler_starts_after_its_reply_runs_once_the_reply_is_sent() -> None:
    seen: list[str] = []
    dispatcher = CommandDispatcher("test", NoTransaction())

    async def handler(command: Command[SessionRef], _: None) -> EventsView:
        command.after_reply(lambda: seen.append("after the reply"))
        seen.append("handled")
        return EventsView(upload_session_id=command.payload.upload_session_id, events=[])

    dispatcher.register(Commands.GET_EVENTS, handler, inbox=False)
    broker = KafkaBroker()
    dispatcher.subscribe(broker, ["test.commands"], "test-group", 1, ServiceSettings())

    @broker.subscriber(REPLIES)
    async def caller(body: Any) -> None:
        seen.append("reply received")

    envelope = command_envelope(
        Commands.GET_EVENTS.name,
        SessionRef(upload_session_id=uuid.uuid4()),
        correlation_id="c-1",
        principal=Principal(user_id="u", tenant_id="t1"),
    )
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            encode(envelope), names.topic("test.commands"), reply_to=REPLIES, correlation_id="c"
        )
    assert seen == ["handled", "reply received", "after the reply"]
    await dispatcher.dispatch(encode(envelope))  # a direct call: no reply to wait for
    assert seen[3:] == ["after the reply", "handled"]  # run at once
