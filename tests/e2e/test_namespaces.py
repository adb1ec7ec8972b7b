"""Two systems on one Kafka: each in its own namespace answers only its own commands."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import launcher
import pytest

from tests.conftest import Caller, System, free_port
from tests.support import stack
from tests.support.api import initiate
from tests.support.metrics import metric

pytestmark = pytest.mark.e2e

REQUESTS = 8
INITIATED_OK = {"service": "initiation", "command": "initiation.initiate", "outcome": "ok"}


@pytest.fixture
def neighbour(system: System, tmp_path: Path) -> Iterator[dict[str, launcher.ServiceProcess]]:
    """A second gateway and initiation on the same Kafka, Postgres and S3, in another namespace:
    without namespaces its initiation would join our consumer group and take our commands."""
    namespace = f"nbr-{uuid.uuid4().hex[:8]}"
    # The system's own settings (its CORS origins among them) but for the namespace, as the
    # stack's admin: the launcher provisions the namespace's topics and ACLs with it.
    admin = {name: system.env[name] for name in stack.stack_principals.PER_PRINCIPAL_VARIABLES}
    env = {**system.processes["initiation"].env, **admin, "INTAKE_NAMESPACE": namespace}
    every = launcher.build(
        env, tmp_path, free_port(), {"initiation": free_port(), "gateway": free_port()}
    )
    processes = {name: every[name] for name in ("initiation", "gateway")}
    try:
        with launcher.running(processes, 90):
            yield processes
    finally:
        stack.delete_namespace_topics(system.env, namespace)


async def test_each_namespace_answers_only_its_own_commands(
    system: System,
    api: httpx.AsyncClient,
    caller: Caller,
    neighbour: dict[str, launcher.ServiceProcess],
) -> None:
    ours_url = system.processes["initiation"].url("/metrics")
    theirs_url = neighbour["initiation"].url("/metrics")
    ours_before = await metric(ours_url, "intake_commands_total", **INITIATED_OK)

    their_gateway = f"http://127.0.0.1:{neighbour['gateway'].api_port}"
    async with httpx.AsyncClient(base_url=their_gateway, timeout=30) as theirs:
        for _ in range(REQUESTS):
            await initiate(api, caller, 10)
            await initiate(theirs, caller, 10)

    ours_after = await metric(ours_url, "intake_commands_total", **INITIATED_OK)
    theirs_after = await metric(theirs_url, "intake_commands_total", **INITIATED_OK)
    assert ours_after - ours_before == REQUESTS
    assert theirs_after == REQUESTS
