"""A service's process replaced by one with other settings, for a test that needs them."""

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

from tests.conftest import System, free_port, launcher


@contextlib.asynccontextmanager
async def service_as(
    system: System, service: str, name: str, **env: str
) -> AsyncIterator[launcher.ServiceProcess]:
    """`service` replaced by a process with `env` on top (logs under `name`), until the block
    ends; then the normal process runs again."""
    normal = system.processes[service]
    port = free_port()
    variant = dataclasses.replace(
        normal,
        env={**normal.env, **env, "INTAKE_METRICS_PORT": str(port)},
        log_dir=normal.log_dir / name,
        health_port=port,
        process=None,
    )
    await asyncio.to_thread(normal.stop)
    try:
        variant.start()
        await asyncio.to_thread(variant.wait_ready, 90)
        yield variant
    finally:
        await asyncio.to_thread(variant.stop)
        normal.start()
        await asyncio.to_thread(normal.wait_ready, 90)
