"""Control-plane throughput with 1, 2 and 3 initiation replicas, and the CPU every process
spends per initiate. Starts its own gateway and initiation processes on free ports in a
namespace of its own, on the running native stack (`make up` or `bash deploy/stack.sh up`).

    python -m bench.replicas [--requests 600] [--concurrency 16]
"""

import argparse
import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx
from tests.support import stack, tokens
from tests.support.ports import free_port

from bench import cpu
from bench.common import percentiles, write
from bench.control_plane import initiate_call, run_concurrently

sys.path.insert(0, str(stack.ROOT / "deploy"))
import launcher


def measure_replicas(
    env: dict[str, str], replicas: int, requests: int, concurrency: int
) -> dict[str, Any]:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    service_env = {
        **os.environ,
        **env,
        "INTAKE_ENV": "local",
        "INTAKE_NAMESPACE": namespace,
        "INTAKE_REPLICAS": f"initiation={replicas}",
        "INTAKE_LOG_LEVEL": "WARNING",
    }
    ports = {f"initiation-{r}" if r > 1 else "initiation": free_port() for r in range(1, 4)}
    processes = launcher.build(service_env, Path(tempfile.mkdtemp()), free_port(), ports)
    chosen = [p for p in processes.values() if p.service in {"initiation", "gateway"}]
    try:
        for process in chosen:
            process.start()
        for process in chosen:
            process.wait_ready(120)
        state = Path(env.get("INTAKE_STATE_DIR", stack.ROOT / ".state")).resolve()
        pids = {p.name: [p.process.pid] for p in chosen if p.process} | cpu.stack_pids(state)
        pids["load generator"] = [os.getpid()]
        gateway = next(p for p in chosen if p.service == "gateway")
        return asyncio.run(_load(gateway.url(""), pids, requests, concurrency))
    finally:
        for process in chosen:
            process.stop()
        stack.delete_namespace_topics(env, namespace)


async def _load(
    gateway: str, pids: dict[str, list[int]], requests: int, concurrency: int
) -> dict[str, Any]:
    tenant, brand = tokens.new_tenant(), "bench"
    headers = {"Authorization": f"Bearer {tokens.mint(tenant, [brand])}"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=gateway, timeout=60, limits=limits) as api:
        initiate = initiate_call(api, headers, brand, 1000)
        await run_concurrently(initiate, 100, concurrency)  # warm-up: every partition's owner
        before = cpu.snapshot(pids)
        samples, rate = await run_concurrently(initiate, requests, concurrency)
        after = cpu.snapshot(pids)
    return {
        **percentiles(samples),
        "rps": round(rate, 1),
        "cpu_ms_per_initiate": cpu.per_operation_ms(before, after, requests),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    env = stack.native_env()
    figures = {
        f"initiation_x{n}": measure_replicas(env, n, args.requests, args.concurrency)
        for n in (1, 2, 3)
    }
    figures["note"] = (
        "initiate at the given concurrency through one gateway; all processes share the"
        " machine's cores, so replicas add throughput only while a core is idle"
    )
    print(write("replicas", figures))
    for name, values in figures.items():
        print(name, values)


if __name__ == "__main__":
    main()
