"""A request/reply client of a test's own, to send the services commands as another service
would."""

import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping

from intake_runtime.bootstrap import reply_client
from intake_runtime.messaging.kafka import build_broker
from intake_runtime.messaging.requests import RequestReplyClient
from tests.support import stack


@contextlib.asynccontextmanager
async def request_client(
    stack_env: Mapping[str, str], service: str, timeout_s: float
) -> AsyncIterator[RequestReplyClient]:
    """A started client named `service` on the stack's broker, as a service's host starts its
    own (bootstrap.reply_client); stopped with its broker after. Name it after the principal
    whose commands it sends: a service writes only the reply topics of the principals that may
    send to it (acls.answered_owners), whatever identity the test itself holds."""
    settings = stack.kafka_settings(stack_env).model_copy(
        update={"instance_id": uuid.uuid4().hex[:12], "request_timeout_s": timeout_s}
    )
    broker = build_broker(settings, service)
    await broker.start()
    try:
        async with reply_client(settings, broker, service) as client:
            yield client
    finally:
        await broker.stop()
