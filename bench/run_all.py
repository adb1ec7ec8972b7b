"""Every benchmark against the running local stack, then docs/benchmarks.md from the results.

make bench      (starts the system first; or: python bench/run_all.py with `make up` done)
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
REPORT = ROOT / "docs" / "benchmarks.md"

BENCHMARKS = (
    ("control_plane", []),
    ("complete_latency", []),
    ("data_plane", []),
    ("cleanup_orphaned_multipart", []),
)

TARGETS = """Targets we report against (not test assertions): initiate p50 <= 10 ms and
p99 <= 50 ms at concurrency 16; data plane >= 0.9 of boto3; initiate-batch of 100 <= 500 ms;
each service under 150 MiB RSS."""


def run(name: str, arguments: list[str]) -> None:
    print(f"== {name}", flush=True)
    subprocess.run([sys.executable, "-m", f"bench.{name}", *arguments], cwd=ROOT, check=True)


def flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, inner in value.items():
            rows += flatten(f"{prefix}.{key}" if prefix else str(key), inner)
        return rows
    return [(prefix, str(value))]


def section(path: Path) -> str:
    document = json.loads(path.read_text())
    machine = document.get("machine", {})
    lines = [
        f"## {document.get('benchmark', path.stem)}",
        "",
        (
            f"Measured {document.get('date', '?')} on {machine.get('processor', '?')}"
            f" ({machine.get('cpu_count', '?')} cores, {machine.get('memory_gib', '?')} GiB),"
            f" Python {machine.get('python', '?')}."
        ),
        "",
        "| figure | value |",
        "|---|---|",
    ]
    lines += [f"| {key} | {value} |" for key, value in flatten("", document.get("figures", {}))]
    versions = ", ".join(f"{k} {v}" for k, v in document.get("versions", {}).items())
    lines += ["", f"Versions: {versions}", ""]
    return "\n".join(lines)


def render() -> None:
    parts = ["# Benchmarks", "", TARGETS, ""]
    parts += [section(path) for path in sorted(RESULTS.glob("*.json"))]
    REPORT.write_text("\n".join(parts))
    print(f"wrote {REPORT}")


def main() -> None:
    only = sys.argv[1:]
    for name, arguments in BENCHMARKS:
        if not only or name in only:
            run(name, arguments)
    render()


if __name__ == "__main__":
    main()
