"""Three initiation replicas in one consumer group: one is killed under load, and every request
still gets its answer (at most one retry by the client, with the same Idempotency-Key)."""

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import launcher
import pytest

from intake_contracts import topics
from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.ops.groups import describe_groups
from tests.conftest import Caller, System, free_port
from tests.support import stack
from tests.support.api import initiate_body
from tests.support.metrics import metric
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

REQUESTS = 48
IN_FLIGHT = 8
KILL_AFTER = 16
INITIATED_OK = {"service": "initiation", "command": "initiation.initiate", "outcome": "ok"}


@pytest.fixture
def more_replicas(system: System, tmp_path: Path) -> Iterator[list[launcher.ServiceProcess]]:
    """Replicas 2 and 3 of initiation, beside the system's own, in its namespace and group."""
    # The system's own settings (its CORS origins among them), so no replica rewrites the bucket.
    env = {**system.processes["initiation"].env, "INTAKE_REPLICAS": "initiation=3"}
    ports = {"initiation-2": free_port(), "initiation-3": free_port()}
    every = launcher.build(env, tmp_path, free_port(), ports)
    replicas = [every["initiation-2"], every["initiation-3"]]
    try:
        for replica in replicas:
            replica.start()
        for replica in replicas:
            replica.wait_ready(90)
        yield replicas
    finally:
        for replica in replicas:
            replica.stop()


async def _processes_with_partitions(bootstrap: KafkaAccess) -> int:
    """Each process runs several consumers, all with its instance's client id."""
    groups = {group.group: group for group in await describe_groups(bootstrap)}
    group = groups.get(topics.CONSUMER_GROUPS["initiation"])
    members = group.members if group else []
    return len({member.client_id for member in members if member.partitions})


async def _initiate_with_one_retry(
    api: httpx.AsyncClient, caller: Caller, retries: list[int]
) -> int:
    headers = {**caller.headers, "Idempotency-Key": uuid.uuid4().hex}
    body = initiate_body(caller, 10)
    for attempt in range(2):
        answer = await api.post("/app/uploads/initiate", json=body, headers=headers)
        if answer.status_code not in {503, 504}:
            retries.append(attempt)
            return answer.status_code
    retries.append(2)
    return answer.status_code


async def test_a_killed_replica_loses_no_request(
    system: System,
    api: httpx.AsyncClient,
    caller: Caller,
    more_replicas: list[launcher.ServiceProcess],
) -> None:
    bootstrap = stack.kafka_access(system.env)
    await eventually(lambda: _processes_with_partitions(bootstrap), lambda n: n == 3, timeout_s=60)
    victim = more_replicas[1]
    retries: list[int] = []
    gate = asyncio.Semaphore(IN_FLIGHT)
    done = 0
    killed_with_work = -1.0

    async def one() -> int:
        nonlocal done, killed_with_work
        async with gate:
            status = await _initiate_with_one_retry(api, caller, retries)
            done += 1
            if done == KILL_AFTER:
                killed_with_work = await metric(
                    victim.url("/metrics"), "intake_commands_total", **INITIATED_OK
                )
                victim.kill()
            return status

    statuses = await asyncio.gather(*(one() for _ in range(REQUESTS)))

    assert statuses == [201] * REQUESTS
    assert max(retries) <= 1
    assert killed_with_work > 0  # the victim was serving requests when it died
    await eventually(lambda: _processes_with_partitions(bootstrap), lambda n: n == 2, timeout_s=60)
