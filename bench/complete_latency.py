"""Latency of POST /app/assets/upload/complete through the gateway, by upload size.

Only the complete call is timed; initiating and uploading the bytes happen before the clock
starts. Each sample is a fresh session, so every completion runs the saga's answered part
(BeginCompletion, finalize + HEAD, MarkCompleted, insert); promotion (server-side copy, delete)
follows after the answer and is timed apart, as the lag until the Asset names its permanent key.

    uv run python -m bench.complete_latency [--gateway URL | --start] [--direct N]
        [--multipart N] [--mib N] [--gib N]

`--start` runs initiation, completion and gateway as processes of their own (free ports, default
settings; `--copy-threshold-mib` overrides the promotion's copy threshold) against the local
stack. `--mib`/`--gib` set the samples of the 1 MiB (direct) and 1 GiB (128 parts of 8 MiB)
comparison; 0 skips it.
"""

import argparse
import asyncio
import contextlib
import functools
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
from bench.data_plane import s3_client

MiB = 1024 * 1024
GiB = 1024 * MiB
CHUNK = 8 * MiB  # initiation's default chunk size
MULTIPART_SIZE = 4 * CHUNK + MiB  # five parts: four of 8 MiB and one of 1 MiB
DIRECT_SIZE = 64 * 1024
PUT_PARALLEL = 4  # part uploads at once while preparing a 1 GiB session (not timed)


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

    async def direct_session(self, size: int = DIRECT_SIZE) -> str:
        session = await self.initiate(size)
        direct = session["direct"]
        put = await self.raw.put(direct["url"], content=os.urandom(size), headers=direct["headers"])
        put.raise_for_status()
        return str(session["upload_session_id"])

    async def multipart_session(self, payload: bytes) -> str:
        """A session of `payload`'s size (whole 8 MiB parts plus a tail), every part uploaded."""
        session = await self.initiate(len(payload))
        session_id = str(session["upload_session_id"])
        numbers = list(range(1, session["multipart"]["part_count"] + 1))
        urls: list[dict[str, Any]] = []
        for first in range(0, len(numbers), 100):  # the batch signing limit
            signed = await self.api.post(
                f"/app/uploads/{session_id}/multipart-part-urls",
                json={"part_numbers": numbers[first : first + 100]},
                headers=self.headers,
            )
            signed.raise_for_status()
            urls += signed.json()["parts"]
        gate = asyncio.Semaphore(PUT_PARALLEL)

        async def put(part: dict[str, Any]) -> None:
            first = (part["part_number"] - 1) * CHUNK
            async with gate:
                answer = await self.raw.put(part["url"], content=payload[first : first + CHUNK])
            answer.raise_for_status()

        await asyncio.gather(*(put(part) for part in urls))
        return session_id

    async def promotion_lag(self, session_id: str) -> float:
        """Milliseconds from now until the Asset names its permanent key (asked again and
        again: the answer says where the bytes are); then its object is deleted, so that the
        bench leaves no GiBs behind."""
        started = time.perf_counter()
        while True:
            answer = await self.api.post(
                "/app/assets/upload/complete",
                json={"upload_session_id": session_id},
                headers=self.headers,
            )
            asset = answer.json().get("asset") or {}
            if answer.status_code == 200 and asset.get("promoted_at"):
                lag = (time.perf_counter() - started) * 1000
                await asyncio.to_thread(_delete, asset["bucket"], asset["object_key"])
                return lag
            await asyncio.sleep(0.05)

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


async def measure(
    gateway: str, direct: int, multipart: int, mib_samples: int, gib_samples: int
) -> dict[str, Any]:
    async with (
        httpx.AsyncClient(base_url=gateway, timeout=60) as api,
        httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=PUT_PARALLEL)) as raw,
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
        by_size = await compare_sizes(bench, mib_samples, gib_samples)
    return {
        "complete_direct_64KiB": _summary(direct_ms),
        "complete_multipart_5_parts_33MiB": _summary(multipart_ms),
        **by_size,
        "failures": bench.failures,
    }


async def compare_sizes(bench: Bench, mib_samples: int, gib_samples: int) -> dict[str, Any]:
    """Complete p50 for 1 MiB (direct) and 1 GiB (128 parts), and the promotion lag after."""
    if not (mib_samples and gib_samples):
        return {}
    small, small_lag = [], []
    for _ in range(mib_samples):
        session_id = await bench.direct_session(MiB)
        small.append(await bench.timed_complete(session_id))
        small_lag.append(await bench.promotion_lag(session_id))
    payload = os.urandom(GiB)
    large, large_lag = [], []
    for _ in range(gib_samples):
        session_id = await bench.multipart_session(payload)
        large.append(await bench.timed_complete(session_id))
        # Waited for, so that one sample's copy does not run under the next one's complete.
        large_lag.append(await bench.promotion_lag(session_id))
    figures = {
        "complete_direct_1MiB": _summary(small),
        "complete_multipart_1GiB_128_parts": _summary(large),
        "promotion_lag_after_answer_1MiB": _summary(small_lag),
        "promotion_lag_after_answer_1GiB": _summary(large_lag),
    }
    p50_small = figures["complete_direct_1MiB"]["p50_ms"]
    p50_large = figures["complete_multipart_1GiB_128_parts"]["p50_ms"]
    figures["complete_p50_ratio_1GiB_to_1MiB"] = round(p50_large / p50_small, 2)
    return figures


@functools.cache
def _s3() -> Any:
    return s3_client(stack.stack_env())  # stack_env() runs `stack.sh up`: once is enough


def _delete(bucket: str, key: str) -> None:
    _s3().delete_object(Bucket=bucket, Key=key)


def _summary(samples: list[float]) -> dict[str, float]:
    kept = [ms for ms in samples if not math.isnan(ms)]
    if len(kept) < 2:  # quantiles need two samples
        return {"n": len(kept), "p50_ms": kept[0] if kept else float("nan")}
    return percentiles(kept)


@contextlib.contextmanager
def own_services(copy_threshold: int | None = None) -> Iterator[str]:
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
            # The production default (parts copied in parallel above 256 MiB) unless asked
            # otherwise, e.g. 5120 for one CopyObject per promotion.
            process.env.pop("INTAKE_MULTIPART_COPY_THRESHOLD", None)
            if copy_threshold is not None:
                process.env["INTAKE_MULTIPART_COPY_THRESHOLD"] = str(copy_threshold)
            process.start()
        for process in processes.values():
            process.wait_ready(120)
        yield f"http://127.0.0.1:{processes['gateway'].api_port}"
    finally:
        for process in reversed(list(processes.values())):
            process.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--start", action="store_true", help="run the services for the bench")
    parser.add_argument("--direct", type=int, default=100)
    parser.add_argument("--multipart", type=int, default=30)
    parser.add_argument("--mib", type=int, default=20, help="1 MiB samples (0: no comparison)")
    parser.add_argument("--gib", type=int, default=5, help="1 GiB samples (0: no comparison)")
    parser.add_argument(
        "--copy-threshold-mib", type=int, default=None, help="with --start: part copies above"
    )
    parser.add_argument("--name", default="complete_latency", help="result file name")
    args = parser.parse_args()
    threshold = args.copy_threshold_mib * MiB if args.copy_threshold_mib else None
    services = own_services(threshold) if args.start else contextlib.nullcontext(args.gateway)
    with services as gateway:
        figures = asyncio.run(measure(gateway, args.direct, args.multipart, args.mib, args.gib))
    if threshold:
        figures["copy_threshold_bytes"] = threshold
    print(write(args.name, figures))
    for name, values in figures.items():
        print(name, values)


if __name__ == "__main__":
    main()
