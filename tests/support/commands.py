"""A request/reply client of a test's own, to send the services commands as another service
would."""

import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping

from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.messaging.kafka import build_broker
from intake_runtime.messaging.requests import RequestReplyClient
from tests.support import stack


@contextlib.asynccontextmanager
async def request_client(
    stack_env: Mapping[str, str], service: str, timeout_s: float
) -> AsyncIterator[RequestReplyClient]:
    """A started client named `service` on the stack's broker; stopped with its broker after."""
    settings = stack.kafka_settings(stack_env)
    broker = build_broker(settings, service)
    await broker.start()
    client = RequestReplyClient(
        broker,
        access=KafkaAccess.of(settings),
        service=service,
        instance_id=uuid.uuid4().hex[:12],
        timeout_s=timeout_s,
        publish_timeout_s=settings.publish_timeout_s,
        fetch_wait_ms=settings.kafka_fetch_wait_ms,
    )
    await client.start()
    try:
        yield client
    finally:
        await client.stop()
        await broker.stop()
