"""Fixtures: the real stack once per run, every service as its own process, and clients."""

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from intake_runtime.messaging import names
from tests.support import stack, tokens
from tests.support.ports import free_port

sys.path.insert(0, str(stack.ROOT / "deploy"))
import launcher


@pytest.fixture(scope="session")
def stack_env() -> Iterator[dict[str, str]]:
    """The stack, and a namespace of this run's own: its topics and consumer groups are apart
    from those of a running `make up` or another test run on the same Kafka."""
    env = stack.stack_env()
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    names.use_namespace(namespace)
    yield {**env, "INTAKE_NAMESPACE": namespace}
    stack.delete_namespace_topics(env, namespace)


# A web origin the test run grants (gateway and bucket CORS), besides the gateway's own.
CONFIGURED_ORIGIN = "http://app.intake.test:3000"


@dataclass
class System:
    """Every service running as its own process against the real stack."""

    env: dict[str, str]
    processes: dict[str, launcher.ServiceProcess]

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.processes['gateway'].api_port}"

    def restart(self, name: str, *, kill: bool = True) -> None:
        process = self.processes[name]
        process.kill() if kill else process.stop()
        process.start()
        process.wait_ready()


def service_env(stack_env: dict[str, str], **overrides: str) -> dict[str, str]:
    return {
        **os.environ,
        **stack_env,
        "INTAKE_LOG_LEVEL": "INFO",
        "INTAKE_REQUEST_TIMEOUT_S": "15",
        # Low, so that small test files exercise the multipart copy of a promotion.
        "INTAKE_MULTIPART_COPY_THRESHOLD": str(6 * 1024 * 1024),
        # Short, so that a promotion left by a crashed completion is taken over within seconds.
        "INTAKE_COMPLETION_LEASE_S": "3",
        "INTAKE_PROMOTION_SWEEP_S": "1",
        **overrides,
    }


@pytest.fixture(scope="session")
def system(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    log_dir = stack.ROOT / ".state" / "test-logs" / uuid.uuid4().hex[:8]
    ports = {name: free_port() for name in launcher.DEFAULT_PORTS}
    gateway_port = free_port()
    # The page is served by this run's gateway: its origin must reach the bucket's CORS rule.
    origins = f"http://127.0.0.1:{gateway_port},{CONFIGURED_ORIGIN}"
    processes = launcher.build(
        service_env(stack_env, INTAKE_CLEANUP_SCHEDULE="off", INTAKE_CORS_ORIGINS=origins),
        log_dir,
        gateway_port,
        ports,
    )
    for traced in ("gateway", "initiation"):  # spans as JSON lines in their logs: test_tracing
        processes[traced].env.update(OTEL_TRACES_EXPORTER="console", OTEL_BSP_SCHEDULE_DELAY="100")
    with launcher.running(processes, 90):
        yield System(stack_env, processes)


@pytest.fixture
async def api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        yield client


@dataclass
class Caller:
    """A tenant with a brand and a token, unique to one test."""

    tenant_id: str
    brand_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def new_caller(brands: int = 1) -> Caller:
    tenant = tokens.new_tenant()
    brand_ids = [f"b-{uuid.uuid4().hex[:8]}" for _ in range(brands)]
    return Caller(tenant, brand_ids[0], tokens.mint(tenant, brand_ids))


@pytest.fixture
def caller() -> Caller:
    return new_caller()


@pytest.fixture(scope="session")
def s3(stack_env: dict[str, str]) -> Any:
    return stack.s3_client(stack_env)


@pytest.fixture(scope="session")
def bucket(stack_env: dict[str, str]) -> str:
    return stack_env["AWS_BUCKET"]


@pytest.fixture
async def db(stack_env: dict[str, str]) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(stack_env["DATABASE_URL"])
    try:
        yield connection
    finally:
        await connection.close()


@dataclass(frozen=True)
class Stage:
    """What an end-to-end test of the background jobs works on: the running services, the API
    as one caller, the database, the object store and the stack's environment."""

    system: System
    api: httpx.AsyncClient
    caller: Caller
    db: asyncpg.Connection
    s3: Any
    bucket: str
    stack_env: dict[str, str]


@pytest.fixture
def stage(
    system: System,
    api: httpx.AsyncClient,
    caller: Caller,
    db: asyncpg.Connection,
    s3: Any,
    bucket: str,
    stack_env: dict[str, str],
) -> Stage:
    return Stage(system, api, caller, db, s3, bucket, stack_env)


def state_dir() -> Path:
    return stack.ROOT / ".state"
