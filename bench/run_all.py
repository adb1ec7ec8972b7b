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

BENCHMARKS: tuple[tuple[str, list[str]], ...] = (
    ("control_plane", []),
    ("complete_latency", []),
    ("data_plane", []),
    ("cleanup_orphaned_multipart", []),
    ("cleanup_abandoned", []),
    ("browser_page", []),
    ("cli_first_request", []),
    ("replicas", []),
    ("cpu_per_op", []),
)

TARGETS = """Targets we report against (not test assertions): initiate p50 <= 10 ms and
p99 <= 50 ms at concurrency 16; data plane >= 0.9 of boto3; initiate-batch of 100 <= 500 ms;
each service under 150 MiB RSS; the upload page in Chromium >= 0.8 of the Python client;
complete p50 for 1 GiB within 2x that of 1 MiB (issue 16: before
the promotion left the request, 1 GiB took 4.1 s); `intake` at its first request <= 150 ms from
exec (before: ~0.5 s of imports).

Reading the figures: the whole system (five Python services, Kafka, Postgres, SeaweedFS) and
the load generator share two cores, and under load the CPU is saturated: initiate levels off
near 70 requests/s whatever the concurrency, so the concurrent latencies are queueing. The
in-process floor (the same Postgres and S3 work without gateway and Kafka) shows where the
rest goes: ~7 ms of an initiate is the database and storage work, the remaining ~15 ms of a
sequential call is the two Kafka hops and the HTTP layer. The page and the Python client are
measured in alternation on the same running system, so their ratio survives a busy machine
better than either absolute rate (the load average is recorded with them)."""


ISSUE_16 = """Issue 16 (completion in constant time, CLI start-up). `complete` now answers once the
upload is finalized, verified and the Asset recorded; promotion to the permanent key follows in
the background. complete_latency times the answer for a fresh 1 MiB (direct) and 1 GiB
(128 parts) upload, and the lag until the Asset names its permanent key (`promotion_lag_*`,
polled every 50 ms through `complete`, so an upper bound). complete_latency ran with one
CopyObject per promotion (the default then), complete_latency_part_copies with parts copied
in parallel above 256 MiB (the default now), to compare the promotion itself. Before this
change a 1 GiB `complete` took 4.1 s (the copy ran inside the request).

cli_first_request times exec of `intake` to its first request arriving at a local server
(wall), and the CPU time the client had used by then (`*_cpu`, from /proc, 10 ms ticks);
cli_first_request_before runs the client as it was before the lazy imports. Start-up is
single-threaded and CPU-bound, so its CPU time is what it takes on an idle machine; the wall
figures include waiting for a core. These runs shared the two cores with two other engineers'
stacks and test suites (load average 5-12, recorded in the CLI figures): absolute latencies
are several times the idle figures above; compare within a run.

Both CLI runs used compiled bytecode. This environment sets PYTHONDONTWRITEBYTECODE=1 and uv
installed no .pyc files, so until now every `intake` compiled its dependencies from source:
measured on a nearly idle machine (load 0.8) the lazy client still took 680-790 ms to its
first request that way, against 310-350 ms with bytecode. `make bootstrap` now installs with
`--compile-bytecode`. The 150 ms target is not met: what remains is mostly importing httpx,
httpcore, anyio and asyncio before the first request (docs/notes.md)."""


ISSUE_15 = """Issue 15 (CPU per operation). bench/cpu_per_op.py starts every service of a checkout
as its own process (free ports, a namespace of its own) on the running stack and reads the CPU
time of each process from /proc around each operation's run: initiate at concurrency 16 and
sequentially, part URL sequentially, complete of a 64 KiB direct upload (promotion included),
and the event consumers (audit and cleanup CPU divided by the events they consumed). Before
each reading it waits until audit has written no new event for 1.5 s, so the consumers' work is
counted with the operation that caused it. `cpu_ms_per_op` is the raw figure;
`cpu_ms_per_op_net_of_idle` subtracts what each process spends idle (measured for 5 s before
the run) over the phase's wall time. On a loaded machine a phase lasts minutes and idle polls
and heartbeats are a large part of the raw figure, so compare the net one there.

Before and after in one sitting, on a quiet machine (the stack up: `bash deploy/stack.sh up`):

    git worktree add /work/wt-before bcf4dfe
    (cd /work/wt-before && uv sync --frozen --compile-bytecode && make web)
    .venv/bin/python -m bench.cpu_per_op --checkout /work/wt-before --name cpu_per_op_before
    .venv/bin/python -m bench.cpu_per_op
    .venv/bin/python bench/run_all.py --render

`--checkout` runs that checkout's own `deploy/launcher.py` and `.venv` (its gateway serves
the page from `services/gateway/src/intake_gateway/static`, which `make web` builds); the
load generator, the readings and the database it polls are this checkout's. `--phases`
picks a subset (initiate, part_url, complete, floor).

What changed (each its own commit, runtime only): uvloop in every process; asyncpg's reset
query on release dropped (four statements per command the code never needs); the inbox
without a savepoint around the work (a refusal is recorded in a transaction of its own);
event consumers fetch up to 64 KiB or 500 ms, so each batch (one transaction, one offset
commit) carries many events; FastStream's two per-message log lines at DEBUG. Neither Kafka
nor Postgres configuration changed (fetch sizes are client settings), so docker-compose.yml
and deploy/k8s are unchanged."""

PHASES = (
    ("initiate_c16", "initiate c16"),
    ("initiate_sequential", "initiate sequential"),
    ("part_url_sequential", "part URL sequential"),
    ("complete_direct_64KiB", "complete 64 KiB"),
)


def cpu_table() -> list[str]:
    """Before/after CPU per operation, per process, and latency, from the two result files."""
    before, after = _figures("cpu_per_op_before"), _figures("cpu_per_op")
    if not (before and after):
        return []
    processes = list(after[PHASES[0][0]]["cpu_ms_per_op_net_of_idle"])
    rows = [
        "CPU ms per operation, net of idle (raw in the sections below), before -> after:",
        "",
        "| operation | " + " | ".join(processes) + " | p50 ms | p99 ms | req/s |",
        "|---" * (len(processes) + 4) + "|",
    ]
    for key, label in PHASES:
        if key not in before or key not in after:
            continue
        was, now = before[key]["cpu_ms_per_op_net_of_idle"], after[key]["cpu_ms_per_op_net_of_idle"]
        cells = [f"{was.get(p, '?')} -> {now.get(p, '?')}" for p in processes]
        cells += [f"{before[key][f]} -> {after[key][f]}" for f in ("p50_ms", "p99_ms", "rps")]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    consumers = ("event_consumers_cpu_ms_per_event", "service_peak_rss_mib", "idle_cpu_ms_per_s")
    rows.append("")
    for name in consumers:
        rows.append(f"- {name}: {before.get(name)} -> {after.get(name)}")
    floors = [f.get("floor", {}) for f in (before, after)]
    if all(floors):
        rows.append(
            "- floor initiate p50 ms: "
            + " -> ".join(str(f["initiate_direct_in_process"]["p50_ms"]) for f in floors)
            + "; floor CPU ms per initiate + part URL: "
            + " -> ".join(str(f["cpu_ms_per_initiate_and_part_url"]) for f in floors)
        )
    rows.append(
        f"- load average: {before.get('load_average')} -> {after.get('load_average')};"
        f" checkouts {before.get('checkout')} -> {after.get('checkout')}"
    )
    return rows


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


def _figures(name: str) -> dict[str, Any]:
    path = RESULTS / f"{name}.json"
    return dict(json.loads(path.read_text())["figures"]) if path.exists() else {}


def summary() -> list[str]:
    """The figures the targets name, side by side with them."""
    control, data = _figures("control_plane"), _figures("data_plane")
    rows = ["| target | measured |", "|---|---|"]
    if c16 := control.get("initiate_c16"):
        rows.append(
            f"| initiate at c16: p50 <= 10 ms, p99 <= 50 ms | p50 {c16['p50_ms']} ms,"
            f" p99 {c16['p99_ms']} ms ({c16['rps']} req/s) |"
        )
    if sequential := control.get("initiate_sequential"):
        rows.append(
            f"| initiate, sequential (issue 3) | p50 {sequential['p50_ms']} ms,"
            f" p99 {sequential['p99_ms']} ms |"
        )
    if batch := control.get("initiate_batch_100"):
        rows.append(f"| initiate-batch of 100 <= 500 ms | p50 {batch['p50_ms']} ms |")
    if rss := control.get("service_rss_mib"):
        peaks = {k.removesuffix("_peak"): v for k, v in rss.items() if k.endswith("_peak")}
        rows.append(f"| each service < 150 MiB RSS | {peaks} |")
    if (ours := data.get("intake_upload")) and (boto := data.get("boto3_upload_file")):
        rows.append(
            f"| data plane >= 0.9 of boto3 | transfer {ours['transfer_mib_s']} MiB/s vs boto3"
            f" {boto['mib_s']} MiB/s ({ours['transfer_mib_s'] / boto['mib_s']:.2f}x); end to end"
            f" with server-side promotion {ours['end_to_end_mib_s']} MiB/s"
            f" ({ours['end_to_end_mib_s'] / boto['mib_s']:.2f}x); client peak RSS"
            f" {ours['peak_rss_mib_vmhwm']} MiB |"
        )
    if page := _figures("browser_page"):
        rows.append(
            f"| upload page >= 0.8 of the Python client (256 MiB, end to end) |"
            f" page {page['best_page_end_to_end_mib_s']} MiB/s vs client"
            f" {page['best_client_end_to_end_mib_s']} MiB/s ({page['page_vs_client']}x);"
            f" transfer alone (pick to last part, vs the client's own transfer time) page"
            f" {max(r['page']['transfer_mib_s'] for r in page['rounds'])} MiB/s vs client"
            f" {max(r['python_client']['transfer_mib_s'] for r in page['rounds'])} MiB/s |"
        )
    if abandoned := _figures("cleanup_abandoned"):
        rows.append(
            f"| 10,000 abandoned sessions failed in one run < 30 s (issue 13) |"
            f" {abandoned['sessions_failed']} failed in {abandoned['job_seconds']} s"
            f" ({abandoned['job_stats']['batches']} batches); CPU cleanup"
            f" {abandoned['cleanup_cpu_seconds']} s,"
            f" initiation {abandoned['initiation_cpu_seconds']} s;"
            " not met on the loaded machine, most of cleanup's CPU is the 10,000 residue deletes |"
        )
    rows += _issue_16_rows()
    return rows


def _issue_16_rows() -> list[str]:
    rows = []
    complete = _figures("complete_latency")
    if ratio := complete.get("complete_p50_ratio_1GiB_to_1MiB"):
        small = complete["complete_direct_1MiB"]["p50_ms"]
        large = complete["complete_multipart_1GiB_128_parts"]["p50_ms"]
        lag = complete["promotion_lag_after_answer_1GiB"]["p50_ms"]
        rows.append(
            f"| complete p50, 1 GiB within 2x of 1 MiB | 1 MiB {small} ms, 1 GiB {large} ms"
            f" ({ratio}x); the 1 GiB promotion finishes {lag} ms after the answer |"
        )
    cli, before = _figures("cli_first_request"), _figures("cli_first_request_before")
    if upload := cli.get("upload_with_bars"):
        was = before.get("upload_with_bars", {})
        rows.append(
            f"| `intake` first request <= 150 ms from exec | upload p50 {upload['p50_ms']} ms"
            f" wall, {cli['upload_with_bars_cpu']['p50_ms']} ms CPU (before the lazy imports:"
            f" {was.get('p50_ms', '?')} ms wall,"
            f" {before.get('upload_with_bars_cpu', {}).get('p50_ms', '?')} ms CPU); bare"
            f" Python start-up {cli['python_floor']['p50_ms']} ms; load average"
            f" {cli.get('load_average_during_run')} |"
        )
    return rows


def render() -> None:
    parts = ["# Benchmarks", "", TARGETS, "", "## Summary", "", *summary(), "", ISSUE_16, ""]
    parts += [ISSUE_15, "", *cpu_table(), ""]
    parts += [section(path) for path in sorted(RESULTS.glob("*.json"))]
    REPORT.write_text("\n".join(parts))
    print(f"wrote {REPORT}")


def main() -> None:
    only = sys.argv[1:]
    if only == ["--render"]:  # the results as they are, no benchmark run
        render()
        return
    for name, arguments in BENCHMARKS:
        if not only or name in only:
            run(name, arguments)
    render()


if __name__ == "__main__":
    main()
