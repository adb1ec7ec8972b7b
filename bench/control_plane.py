"""Control plane latency through the gateway: initiate, part URL and complete, sequential and
concurrent, beside the same Postgres + S3 work done directly in one process (the floor).

    python bench/control_plane.py [--gateway URL] [--sequential 200]
"""

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from tests.support import tokens

from bench import floor
from bench.common import percentiles, write

MiB = 1024 * 1024
STATE = Path(os.environ.get("INTAKE_STATE_DIR", Path(__file__).resolve().parents[1] / ".state"))


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def run_concurrently(
    call: Callable[[], Awaitable[Any]], total: int, concurrency: int
) -> tuple[list[float], float]:
    samples: list[float] = []
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            samples.append(await timed(call))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples, total / (time.perf_counter() - started)


def initiate_call(
    api: httpx.AsyncClient, headers: dict[str, str], brand: str, size: int
) -> Callable[[], Awaitable[Any]]:
    async def call() -> Any:
        answer = await api.post(
            "/app/uploads/initiate",
            json={
                "file_name": "b.bin",
                "file_size": size,
                "mime_type": "application/octet-stream",
                "brand_id": brand,
            },
            headers=headers,
        )
        answer.raise_for_status()
        return answer.json()

    return call


async def measure(gateway: str, sequential: int, concurrent_total: int) -> dict[str, Any]:
    tenant, brand = tokens.new_tenant(), "bench"
    headers = {"Authorization": f"Bearer {tokens.mint(tenant, [brand])}"}
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    figures: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=gateway, timeout=60, limits=limits) as api:
        initiate = initiate_call(api, headers, brand, 1000)
        for _ in range(20):  # warm-up: connections, prepared statements
            await initiate()
        samples = [await timed(initiate) for _ in range(sequential)]
        figures["initiate_sequential"] = percentiles(samples)
        for concurrency in (16, 64):
            samples, rate = await run_concurrently(initiate, concurrent_total, concurrency)
            figures[f"initiate_c{concurrency}"] = {**percentiles(samples), "rps": round(rate, 1)}
        session = await initiate_call(api, headers, brand, 40 * MiB)()
        path = f"/app/uploads/{session['upload_session_id']}/multipart-part-url"

        async def part_url() -> Any:
            answer = await api.post(path, json={"part_number": 1}, headers=headers)
            answer.raise_for_status()

        samples = [await timed(part_url) for _ in range(sequential)]
        figures["part_url_sequential"] = percentiles(samples)
        for concurrency in (16, 64):
            samples, rate = await run_concurrently(part_url, concurrent_total, concurrency)
            figures[f"part_url_c{concurrency}"] = {**percentiles(samples), "rps": round(rate, 1)}
        figures["initiate_batch_100"] = percentiles(
            [await timed(batch_call(api, headers, brand)) for _ in range(20)]
        )
    figures["floor"] = await floor.measure(sequential)
    figures["service_rss_mib"] = service_rss_mib()
    return figures


def batch_call(
    api: httpx.AsyncClient, headers: dict[str, str], brand: str
) -> Callable[[], Awaitable[Any]]:
    files = [
        {
            "file_name": f"{i}.jpg",
            "file_size": 1000 + i,
            "mime_type": "image/jpeg",
            "client_reference": str(i),
        }
        for i in range(100)
    ]

    async def call() -> Any:
        answer = await api.post(
            "/app/uploads/initiate-batch", json={"brand_id": brand, "files": files}, headers=headers
        )
        answer.raise_for_status()
        assert all(item["ok"] for item in answer.json()["uploads"])

    return call


def service_rss_mib() -> dict[str, float]:
    """Resident memory of each service started by `make up` (its pid files)."""
    sizes = {}
    for pid_file in sorted((STATE / "services").glob("*.pid")):
        try:
            status = Path(f"/proc/{pid_file.read_text().strip()}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith(("VmRSS", "VmHWM")):
                key = "rss" if line.startswith("VmRSS") else "peak"
                sizes[f"{pid_file.stem}_{key}"] = round(int(line.split()[1]) / 1024, 1)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--concurrent-total", type=int, default=640)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.gateway, args.sequential, args.concurrent_total))
    print(write("control_plane", figures))
    for name, values in figures.items():
        print(name, values)


if __name__ == "__main__":
    main()
