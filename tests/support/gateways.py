"""A gateway of its own for a test that needs settings the shared one must not have."""

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import System, free_port, launcher


@contextlib.contextmanager
def own_gateway(system: System, log_dir: Path, **overrides: str) -> Iterator[str]:
    """A second gateway process on the same stack and services; yields its base URL."""
    port, metrics_port = free_port(), free_port()
    env = {
        **system.processes["gateway"].env,
        "INTAKE_GATEWAY_PORT": str(port),
        "INTAKE_METRICS_PORT": str(metrics_port),
        "INTAKE_INSTANCE_ID": uuid.uuid4().hex[:12],
        **overrides,
    }
    process = launcher.ServiceProcess("gateway", env, log_dir, metrics_port, api_port=port)
    process.start()
    try:
        process.wait_ready(90)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()
