"""Latency of POST /app/assets/upload/complete through the gateway: direct and 5-part multipart.

Only the complete call is timed; initiating and uploading the bytes happen before the clock
starts. Each sample is a fresh session, so every completion does the whole saga (BeginCompletion,
finalize + HEAD, MarkCompleted, server-side copy, delete, insert).

    uv run python -m bench.complete_latency [--gateway URL | --start] [--direct N] [--multipart N]

`--start` runs initiation, completion and gateway as processes of their own (free ports, default
settings, so promotion is a single server-side copy below 5 GiB) against the local stack.
"""

import argparse
import asyncio
import contextlib
import math
import os
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
from tests.support import stack, tokens

from bench.common import percentiles, write

MiB = 1024 * 1024
CHUNK = 8 * MiB  # initiation's default chunk size
MULTIPART_SIZE = 4 * CHUNK + MiB  # five parts: four of 8 MiB and one of 1 MiB
DIRECT_SIZE = 64 * 1024


class Bench:
    def __init__(self, api: httpx.AsyncClient, raw: httpx.AsyncClient) -> None:
        self.api = api
        self.raw = raw
        self.tenant, self.brand = tokens.new_tenant(), "bench-complete"
        self.headers = {"Authorization": f"Bearer {tokens.mint(self.tenant, [self.brand])}"}
        self.failures: list[str] = []

    async def initiate(self, size: int) -> dict[str, Any]:
        body = {
            "file_name": f"bench-{uuid.uuid4().hex[:6]}.bin",
            "file_size": size,
            "mime_type": "application/octet-stream",
            "brand_id": self.brand,
        }
        for _ in range(3):  # set-up only: a shared, busy stack may answer 503 now and then
            answer = await self.api.post("/app/uploads/initiate", json=body, headers=self.headers)
            if answer.status_code not in {503, 504}:
                break
        answer.raise_for_status()
        return dict(answer.json())

    async def direct_session(self) -> str:
        session = await self.initiate(DIRECT_SIZE)
        direct = session["direct"]
        put = await self.raw.put(
            direct["url"], content=os.urandom(DIRECT_SIZE), headers=direct["headers"]
        )
        put.raise_for_status()
        return str(session["upload_session_id"])

    async def multipart_session(self, payload: bytes) -> str:
        session = await self.initiate(MULTIPART_SIZE)
        session_id = str(session["upload_session_id"])
        assert session["multipart"]["part_count"] == 5
        signed = await self.api.post(
            f"/app/uploads/{session_id}/multipart-part-urls",
            json={"part_numbers": [1, 2, 3, 4, 5]},
            headers=self.headers,
        )
        signed.raise_for_status()
        for part in signed.json()["parts"]:
            first = (part["part_number"] - 1) * CHUNK
            put = await self.raw.put(part["url"], content=payload[first : first + CHUNK])
            put.raise_for_status()
        return session_id

    async def timed_complete(self, session_id: str) -> float:
        """Milliseconds to a 201; a failure (e.g. a 504 during a rebalance) is counted apart."""
        started = time.perf_counter()
        answer = await self.api.post(
            "/app/assets/upload/complete",
            json={"upload_session_id": session_id},
            headers=self.headers,
        )
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 201:
            self.failures.append(f"{answer.status_code} after {elapsed:.0f} ms")
            return float("nan")
        return elapsed


async def measure(gateway: str, direct: int, multipart: int) -> dict[str, Any]:
    async with (
        httpx.AsyncClient(base_url=gateway, timeout=60) as api,
        httpx.AsyncClient(timeout=120) as raw,
    ):
        bench = Bench(api, raw)
        for _ in range(5):  # warm-up: connections, prepared statements, partition assignment
            await bench.timed_complete(await bench.direct_session())
        direct_ms = [
            await bench.timed_complete(await bench.direct_session()) for _ in range(direct)
        ]
        payload = os.urandom(MULTIPART_SIZE)
        multipart_ms = [
            await bench.timed_complete(await bench.multipart_session(payload))
            for _ in range(multipart)
        ]
    return {
        "complete_direct_64KiB": percentiles([ms for ms in direct_ms if not math.isnan(ms)]),
        "complete_multipart_5_parts_33MiB": percentiles(
            [ms for ms in multipart_ms if not math.isnan(ms)]
        ),
        "failures": bench.failures,
    }


@contextlib.contextmanager
def own_services() -> Iterator[str]:
    """Initiation, completion and gateway as processes, like the e2e `system` fixture."""
    sys.path.insert(0, str(stack.ROOT / "deploy"))
    import launcher  # type: ignore[import-not-found]
    from tests.conftest import free_port, service_env

    env = service_env(stack.stack_env(), INTAKE_LOG_LEVEL="WARNING")
    ports = {name: free_port() for name in launcher.DEFAULT_PORTS}
    log_dir = stack.ROOT / ".state" / "bench-logs" / uuid.uuid4().hex[:8]
    os.environ.setdefault("INTAKE_ONLY_SERVICES", "initiation,completion,gateway")
    processes = launcher.build(env, log_dir, free_port(), ports)
    try:
        for process in processes.values():
            # The production default: a promotion below 5 GiB is one server-side copy.
            process.env.pop("INTAKE_MULTIPART_COPY_THRESHOLD", None)
            process.start()
        for process in processes.values():
            process.wait_ready(120)
        yield f"http://127.0.0.1:{processes['gateway'].health_port}"
    finally:
        for process in reversed(list(processes.values())):
            process.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--start", action="store_true", help="run the services for the bench")
    parser.add_argument("--direct", type=int, default=100)
    parser.add_argument("--multipart", type=int, default=30)
    args = parser.parse_args()
    with own_services() if args.start else contextlib.nullcontext(args.gateway) as gateway:
        figures = asyncio.run(measure(gateway, args.direct, args.multipart))
    print(write("complete_latency", figures))
    for name, values in figures.items():
        print(name, values)


if __name__ == "__main__":
    main()
