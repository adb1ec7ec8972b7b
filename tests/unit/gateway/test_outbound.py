"""The gateway's command client over a recording request/reply client: which topic, which
partition key and which deadline each command gets, and how a refusal comes back; and the
OutboundCommands contract held by the routes' fake."""

import uuid
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from pydantic import BaseModel

from intake_contracts import topics
from intake_contracts.commands import Commands, CommandType, EventsView, SessionRef
from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorBody, ErrorCode
from intake_contracts.replies import Reply
from intake_contracts.sessions import StatusView, UploadStatus
from intake_gateway.outbound import KafkaOutboundCommands, parse_session_id
from intake_runtime.messaging.requests import RequestReplyClient
from tests.support.contracts.gateway import GatewayOutboundContract, Script
from tests.support.fakes.gateway import FakeGatewayOutbound

USER = Principal(user_id="u", tenant_id="t", brand_ids=("b",))
SESSION = uuid.uuid4()


@dataclass
class Recorder:
    reply: Reply
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def request(
        self, topic: str, command_type: str, payload: BaseModel, **options: Any
    ) -> Reply:
        self.calls.append({"topic": topic, "type": command_type, "payload": payload, **options})
        return self.reply


def outbound(
    reply: Reply, timeouts: dict[CommandType, float] | None = None
) -> tuple[KafkaOutboundCommands, Recorder]:
    recorder = Recorder(reply)
    return KafkaOutboundCommands(cast(RequestReplyClient, recorder), timeouts), recorder


CANCELLED = StatusView(upload_session_id=SESSION, status=UploadStatus.CANCELLED)


async def test_a_state_change_travels_on_its_sessions_partition_with_its_deadline() -> None:
    client, recorder = outbound(Reply.success(CANCELLED), {CommandType.CANCEL: 42.0})
    answer = await client.call(
        Commands.CANCEL, SessionRef(upload_session_id=SESSION), USER, key=SESSION
    )
    assert answer == CANCELLED
    [call] = recorder.calls
    assert call["topic"] == topics.command_topic(CommandType.CANCEL, by_service=False)
    assert (call["key"], call["timeout_s"], call["principal"]) == (str(SESSION), 42.0, USER)


async def test_a_read_spreads_over_every_partition_with_the_default_deadline() -> None:
    client, recorder = outbound(Reply.success(EventsView(upload_session_id=SESSION, events=[])))
    await client.call(Commands.GET_EVENTS, SessionRef(upload_session_id=SESSION), USER, key=SESSION)
    assert (recorder.calls[0]["key"], recorder.calls[0]["timeout_s"]) == (None, None)


async def test_a_refusal_is_raised_as_the_domain_error_it_carries() -> None:
    refusal = ErrorBody(code=ErrorCode.UPLOAD_CANCELLED, detail="upload session is CANCELLED")
    client, _ = outbound(Reply.failure(refusal))
    with pytest.raises(DomainError) as raised:
        await client.call(Commands.CANCEL, SessionRef(upload_session_id=SESSION), USER)
    assert (raised.value.code, raised.value.detail) == (refusal.code, refusal.detail)


def test_a_malformed_session_id_is_a_missing_session() -> None:
    assert parse_session_id(str(SESSION)) == SESSION
    with pytest.raises(DomainError) as raised:
        parse_session_id("../etc")
    assert raised.value.code == ErrorCode.UPLOAD_SESSION_NOT_FOUND


class TestFakeGatewayOutbound(GatewayOutboundContract):
    """The contract held by the scripted fake the routes' tests use (the request/reply adapter
    runs the same suite against the real services in tests/e2e/test_outbound_ports.py)."""

    @pytest.fixture
    def client(self) -> FakeGatewayOutbound:
        return FakeGatewayOutbound()

    @pytest.fixture
    def script(self, client: FakeGatewayOutbound) -> Script:
        def script(command: CommandType, answer: BaseModel | BaseException) -> None:
            client.answers[command] = answer

        return script

    @pytest.fixture
    def owner(self) -> Principal:
        return USER

    @pytest.fixture
    def stalled(self) -> FakeGatewayOutbound:
        client = FakeGatewayOutbound()
        client.stall()
        return client

    @pytest.fixture
    def unreachable(self) -> FakeGatewayOutbound:
        client = FakeGatewayOutbound()
        client.cut_off()
        return client
