"""Per-part checksums: the `intake` CLI's end-to-end uploads with its default per-part checksum
(CRC32C), with SHA-256 per part (`--checksum-algorithm SHA256`) and with none
(`--no-checksums`), beside boto3's upload_file on the same file, in one sitting. Runs alternate
within each round, so a machine getting busier weighs on all of them alike.

Targets: checksums on at least 0.9x the speed of off, and at least 1.0x boto3.

    uv run python -m bench.checksums [--runs 3] [--sizes-mib 256,1024]
        [--gateway URL | --start]

Without --start, Intake is the system `make up` runs; --start runs its services as processes
of their own on free ports against the running stack (bench/competitors.py). Writes
bench/results/checksums.json.
"""

import argparse
import contextlib
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.support import stack

from bench.common import write
from bench.competitors import (
    PARALLEL,
    System,
    intake,
    intake_running,
    intake_upload,
    load,
    upload_once,
)
from bench.data_plane import write_random

MiB = 1024 * 1024
ON, SHA256, OFF = "intake_checksums_on", "intake_checksums_sha256", "intake_checksums_off"
BOTO3 = "boto3_upload_file"
# What each Intake variant declares (the default, SHA256 asked for, none) and how it asks.
ALGORITHM_OF = {ON: "CRC32C", SHA256: "SHA256", OFF: None}
FLAGS_OF: dict[str, tuple[str, ...]] = {
    ON: (),
    SHA256: ("--checksum-algorithm", "SHA256"),
    OFF: ("--no-checksums",),
}
TARGET_ON_OVER_OFF = 0.9
TARGET_ON_OVER_BOTO3 = 1.0


def cli_upload(
    system: System, path: Path, env: dict[str, str], folder: Path, *, variant: str
) -> dict[str, Any]:
    """One `intake upload` of `variant`, checked to have declared its algorithm."""
    figures = intake_upload(system, path, env, folder, FLAGS_OF[variant])
    if figures["checksum_algorithm"] != ALGORITHM_OF[variant]:
        raise RuntimeError(f"{variant} uploaded an asset declaring {figures['checksum_algorithm']}")
    return figures


def one_size(
    system: System, path: Path, runs: int, env: dict[str, str], folder: Path
) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {ON: [], SHA256: [], OFF: [], BOTO3: []}
    for _ in range(runs):
        for variant in ALGORITHM_OF:
            samples[variant].append(cli_upload(system, path, env, folder, variant=variant))
        samples[BOTO3].append(upload_once(None, path, env, folder))
    medians = {
        name: statistics.median(s["mib_s"] for s in runs_) for name, runs_ in samples.items()
    }
    on_over_off = medians[ON] / medians[OFF]
    on_over_boto3 = medians[ON] / medians[BOTO3]
    return {
        "median_mib_s": medians,
        "on_over_off": round(on_over_off, 3),
        "on_over_boto3": round(on_over_boto3, 3),
        "sha256_over_off": round(medians[SHA256] / medians[OFF], 3),
        "sha256_over_boto3": round(medians[SHA256] / medians[BOTO3], 3),
        "target_on_over_off_met": on_over_off >= TARGET_ON_OVER_OFF,
        "target_on_over_boto3_met": on_over_boto3 >= TARGET_ON_OVER_BOTO3,
        "runs": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes-mib", default="256,1024")
    parser.add_argument("--gateway", default=os.environ.get("INTAKE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--start", action="store_true", help="run Intake's services for the bench")
    args = parser.parse_args()
    env = stack.stack_env()
    figures: dict[str, Any] = {
        "load_average_at_start": load(),
        "parallel": PARALLEL,
        "targets": {"on_over_off": TARGET_ON_OVER_OFF, "on_over_boto3": TARGET_ON_OVER_BOTO3},
    }
    # A namespace of its own: services of another system on the same Kafka (a `make up`)
    # would otherwise share the consumer groups and take some of the commands.
    own = {**env, "INTAKE_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}"}
    opened: contextlib.AbstractContextManager[System] = (
        intake(own) if args.start else intake_running(args.gateway)
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="intake-checksums-", dir="/tmp") as scratch:
        folder = Path(scratch)
        with opened as system:
            figures["version"] = system.version
            for mib in (int(size) for size in args.sizes_mib.split(",")):
                path = folder / f"{mib}mib.bin"
                write_random(path, mib * MiB)
                figures[f"upload_{mib}mib"] = one_size(system, path, args.runs, env, folder)
                path.unlink()
                print(mib, json.dumps(figures[f"upload_{mib}mib"]["median_mib_s"]), flush=True)
    figures["load_average_at_end"] = load()
    figures["sitting_s"] = round(time.perf_counter() - started, 1)
    print(write("checksums", figures))


if __name__ == "__main__":
    main()
