"""The request/reply client without a server: FastStream's test broker takes the command, the
test plays the service answering on the reply topic."""

import asyncio
import uuid
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from intake_contracts import topics
from intake_contracts.commands import Commands, SessionRef
from intake_contracts.envelope import Envelope, Principal
from intake_contracts.replies import REPLY_TYPE, Reply
from intake_contracts.sessions import StatusView, UploadStatus
from intake_runtime.messaging import names
from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.messaging.envelopes import decode, encode
from intake_runtime.messaging.requests import ReplyTimeoutError, RequestReplyClient

USER = Principal(user_id="u", tenant_id="t1")
SESSION = SessionRef(upload_session_id=uuid.UUID("6f1b1a3e-1111-4e6b-9f5e-0a0a0a0a0a0a"))


def reply_bytes(correlation_id: str, reply: Reply) -> bytes:
    envelope = Envelope(
        type=REPLY_TYPE, correlation_id=correlation_id, payload=reply.model_dump(mode="json")
    )
    return encode(envelope)


def client_on(broker: KafkaBroker, timeout_s: float = 5.0) -> RequestReplyClient:
    return RequestReplyClient(
        broker,
        access=KafkaAccess("unused:9092"),
        service="test",
        instance_id="i1",
        timeout_s=timeout_s,
        publish_timeout_s=3.0,
        fetch_wait_ms=10,
    )


async def test_a_reply_with_the_commands_correlation_id_answers_it() -> None:
    broker = KafkaBroker()
    seen: list[tuple[Envelope, Any]] = []
    client = client_on(broker)

    @broker.subscriber(names.topic(topics.INITIATION_COMMANDS))
    async def service(body: Any, message: KafkaMessage) -> None:
        seen.append((decode(message.body), message))
        cancelled = StatusView(
            upload_session_id=SESSION.upload_session_id, status=UploadStatus.CANCELLED
        )
        answer = Reply.success(cancelled)
        headers = [("correlation_id", message.correlation_id.encode())]
        # The reply consumer is aiokafka's; the test hands the record to it directly.
        asyncio.get_running_loop().call_soon(
            client._resolve, headers, reply_bytes(message.correlation_id, answer)
        )

    async with TestKafkaBroker(broker):
        reply = await client.request(
            topics.INITIATION_COMMANDS, Commands.CANCEL.name, SESSION, principal=USER, key="k"
        )
    assert reply.unwrap(StatusView).status == UploadStatus.CANCELLED
    envelope, message = seen[0]
    assert (envelope.type, envelope.tenant_id) == (Commands.CANCEL.name, "t1")
    assert message.reply_to == client.reply_topic


async def test_no_reply_within_the_deadline_is_a_reply_timeout() -> None:
    broker = KafkaBroker()
    client = client_on(broker, timeout_s=0.2)

    @broker.subscriber(names.topic(topics.INITIATION_COMMANDS))
    async def silent(body: Any) -> None:
        return None

    async with TestKafkaBroker(broker):
        with pytest.raises(ReplyTimeoutError):
            await client.request(
                topics.INITIATION_COMMANDS, Commands.CANCEL.name, SESSION, principal=USER
            )


async def test_a_reply_for_another_caller_leaves_a_waiting_one_waiting() -> None:
    client = client_on(KafkaBroker())
    waiting: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
    client._pending["mine"] = waiting
    answer = Reply.success(SESSION)
    client._resolve([("correlation_id", b"other")], reply_bytes("other", answer))
    assert not waiting.done()
    client._resolve([("correlation_id", b"mine")], reply_bytes("mine", answer))
    assert waiting.result() == answer
