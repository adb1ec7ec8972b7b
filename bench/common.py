"""What every benchmark records beside its figures: machine, versions, date."""

import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def versions() -> dict[str, str]:
    names = ["faststream", "aiokafka", "litestar", "asyncpg", "aioboto3", "httpx", "boto3"]
    found = {name: metadata.version(name) for name in names if _installed(name)}
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))
    import stack_kafka
    import stack_s3

    found["kafka_version"] = stack_kafka.KAFKA_VERSION
    found["seaweedfs_pin"] = stack_s3.SEAWEEDFS_PIN
    postgres = subprocess.run(["psql", "--version"], capture_output=True, text=True, check=False)
    found["postgres_client"] = postgres.stdout.strip()
    return found


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "n": len(ordered),
        "p50_ms": round(cuts[49], 2),
        "p95_ms": round(cuts[94], 2),
        "p99_ms": round(cuts[98], 2),
        "max_ms": round(ordered[-1], 2),
    }


def write(name: str, figures: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {
        "benchmark": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "figures": figures,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


# Tenants of the benchmark that runs initiation's use cases in process (bench/floor.py): no
# relay of its own runs, so its events stay unpublished.
IN_PROCESS_TENANTS = ("floor-%",)


async def drop_unrelayed_bench_events(database_url: str) -> int:
    """Delete the in-process benchmarks' unpublished events. Left, they would be the next
    run's load: an older checkout's relay (before issue 13's namespaces) publishes every row
    it finds, in the window where bench/cpu_per_op.py measures idle CPU."""
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        status: str = await connection.execute(
            "DELETE FROM initiation.outbox WHERE published_at IS NULL"
            " AND envelope->>'tenant_id' LIKE ANY($1::text[])",
            list(IN_PROCESS_TENANTS),
        )
    finally:
        await connection.close()
    return int(status.rsplit(" ", 1)[-1])
