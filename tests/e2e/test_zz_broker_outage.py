"""Kafka unreachable: the gateway answers 503 with Retry-After, and the system recovers alone.

Named to run last among the end-to-end tests: it stops the real broker for a while.
"""

import subprocess
import uuid

import httpx
import pytest

from tests.conftest import Caller, System
from tests.support import stack
from tests.support.api import initiate_body
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def initiate(api: httpx.AsyncClient, caller: Caller) -> httpx.Response:
    return await api.post(
        "/app/uploads/initiate",
        headers=caller.headers,
        json=initiate_body(
            caller, 10, file_name=f"outage-{uuid.uuid4().hex[:6]}.txt", mime_type="text/plain"
        ),
    )


async def test_an_unreachable_broker_is_a_503_and_the_system_recovers(
    system: System, api: httpx.AsyncClient, caller: Caller
) -> None:
    assert (await initiate(api, caller)).status_code == 201
    subprocess.run(["bash", str(stack.STACK), "stop-kafka"], check=True)
    try:
        during = await initiate(api, caller)
    finally:
        subprocess.run(["bash", str(stack.STACK), "start-kafka"], check=True)
    assert during.status_code == 503, during.text
    assert during.headers["content-type"].startswith("application/problem+json")
    assert during.json()["code"] == "service_unavailable"
    # Kafka's own error names the brokers: the log's, never the client's.
    for broker in system.env["KAFKA_BOOTSTRAP_SERVERS"].split(","):
        assert broker not in during.text
    assert int(during.headers["retry-after"]) > 0
    after = await eventually(
        lambda: initiate(api, caller), lambda answer: answer.status_code == 201, timeout_s=120
    )
    assert after.json()["status"] == "UPLOADING"
