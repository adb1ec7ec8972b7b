"""The outbound ports against the real services: the OutboundCommands of completion, cleanup
and the gateway, each the real adapter over a real
RequestReplyClient, with initiation and completion running as processes (`system`), held to
the same contract suites as their fakes (tests/support/contracts/).

No reply in time and a broker that does not take a command are made with deadlines no reply
or acknowledgement can meet (a millisecond; a publish deadline already past): the adapters'
real code paths, on the real broker."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from intake_cleanup.outbound import KafkaOutboundCommands as CleanupOutbound
from intake_completion.outbound import KafkaOutboundCommands as CompletionOutbound
from intake_contracts.commands import CommandType
from intake_contracts.envelope import Principal
from intake_gateway.outbound import KafkaOutboundCommands as GatewayOutbound
from intake_runtime.messaging.kafka import build_broker
from intake_runtime.messaging.requests import RequestReplyClient
from tests.conftest import System, new_caller
from tests.support import stack
from tests.support.api import initiate, upload_and_complete
from tests.support.contracts.cleanup_outbound import CleanupOutboundContract, CompletedUpload
from tests.support.contracts.completion_outbound import CompletionOutboundContract
from tests.support.contracts.gateway import GatewayOutboundContract, Script
from tests.support.contracts.outbound import Seed, Seeded

pytestmark = pytest.mark.e2e

NO_TIME = 1e-9  # a deadline that has passed before anything is awaited


@pytest.fixture(scope="module")
async def broker(stack_env: dict[str, str], system: System) -> AsyncIterator[KafkaBroker]:
    del system  # the services that answer
    settings = stack.kafka_settings(stack_env)
    broker = build_broker(settings, "contract-tests")
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


@contextlib.asynccontextmanager
async def started(
    broker: KafkaBroker,
    stack_env: dict[str, str],
    *,
    timeout_s: float = 30.0,
    publish_timeout_s: float = 3.0,
) -> AsyncIterator[RequestReplyClient]:
    client = RequestReplyClient(
        broker,
        access=stack.kafka_access(stack_env),
        # Named as the gateway's: initiation, completion and audit all answer it, which no
        # other principal's reply topic is (acls.answered_owners).
        service="gateway",
        instance_id=uuid.uuid4().hex[:12],
        timeout_s=timeout_s,
        publish_timeout_s=publish_timeout_s,
        fetch_wait_ms=10,
    )
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


@pytest.fixture(scope="module")
async def replies(
    broker: KafkaBroker, stack_env: dict[str, str]
) -> AsyncIterator[RequestReplyClient]:
    async with started(broker, stack_env) as client:
        yield client


@pytest.fixture(scope="module")
async def slow_replies(
    broker: KafkaBroker, stack_env: dict[str, str]
) -> AsyncIterator[RequestReplyClient]:
    """Its deadline passes before any reply can arrive."""
    async with started(broker, stack_env, timeout_s=0.001) as client:
        yield client


@pytest.fixture(scope="module")
async def lost_replies(
    broker: KafkaBroker, stack_env: dict[str, str]
) -> AsyncIterator[RequestReplyClient]:
    """Its publish deadline passes before the broker can acknowledge a command."""
    async with started(broker, stack_env, publish_timeout_s=NO_TIME) as client:
        yield client


@pytest.fixture
def seed(api: httpx.AsyncClient, db: asyncpg.Connection) -> Seed:
    """A session made through the gateway by a user of a new tenant, then cancelled through
    it, or past its expiry (initiation's row moved back in time: nothing else can age it)."""

    async def seed(state: str) -> Seeded:
        caller = new_caller()
        view = await initiate(api, caller, 5)
        session_id = uuid.UUID(view["upload_session_id"])
        if state == "cancelled":
            answer = await api.post(f"/app/uploads/{session_id}/cancel", headers=caller.headers)
            assert answer.status_code == 200, answer.text
        elif state == "expired":
            await db.execute(
                "UPDATE initiation.upload_sessions SET expires_at = now() - interval '1 minute'"
                " WHERE id = $1 AND tenant_id = $2",
                session_id,
                caller.tenant_id,
            )
        owner = Principal(user_id="u", tenant_id=caller.tenant_id, brand_ids=(caller.brand_id,))
        return Seeded(session_id, owner, datetime.fromisoformat(view["expires_at"]))

    return seed


@pytest.fixture
def owner() -> Principal:
    caller = new_caller()
    return Principal(user_id="u", tenant_id=caller.tenant_id, brand_ids=(caller.brand_id,))


class TestCompletionOutboundOverKafka(CompletionOutboundContract):
    @pytest.fixture
    def outbound(self, replies: RequestReplyClient) -> CompletionOutbound:
        return CompletionOutbound(replies)

    @pytest.fixture
    def stalled(self, slow_replies: RequestReplyClient) -> CompletionOutbound:
        return CompletionOutbound(slow_replies)

    @pytest.fixture
    def unreachable(self, lost_replies: RequestReplyClient) -> CompletionOutbound:
        return CompletionOutbound(lost_replies)


class TestCleanupOutboundOverKafka(CleanupOutboundContract):
    @pytest.fixture
    def outbound(self, replies: RequestReplyClient) -> CleanupOutbound:
        return CleanupOutbound(replies)

    @pytest.fixture
    def completed_upload(self, api: httpx.AsyncClient) -> CompletedUpload:
        async def completed_upload() -> Seeded:
            caller = new_caller()
            session_id = await upload_and_complete(api, caller, b"hello")
            owner = Principal(user_id="u", tenant_id=caller.tenant_id, brand_ids=(caller.brand_id,))
            return Seeded(uuid.UUID(session_id), owner, datetime.now(UTC) + timedelta(hours=24))

        return completed_upload

    @pytest.fixture
    def stalled(self, slow_replies: RequestReplyClient) -> CleanupOutbound:
        return CleanupOutbound(slow_replies)

    @pytest.fixture
    def unreachable(self, lost_replies: RequestReplyClient) -> CleanupOutbound:
        return CleanupOutbound(lost_replies)


class TestGatewayOutboundOverKafka(GatewayOutboundContract):
    @pytest.fixture
    def client(self, replies: RequestReplyClient) -> GatewayOutbound:
        return GatewayOutbound(replies)

    @pytest.fixture
    def script(self) -> Script:
        def script(command: CommandType, answer: BaseModel | BaseException) -> None:
            del command, answer  # the real services answer by themselves

        return script

    @pytest.fixture
    def stalled(self, replies: RequestReplyClient) -> GatewayOutbound:
        return GatewayOutbound(replies, {CommandType.GET_SESSION: 0.001})

    @pytest.fixture
    def unreachable(self, lost_replies: RequestReplyClient) -> GatewayOutbound:
        return GatewayOutbound(lost_replies)
