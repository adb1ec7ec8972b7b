"""The soak: services of its own in a Kafka namespace of its own, a workload and a fault driver
at once, then settle, a zero-threshold cleanup pass, and the books.

    python -m tests.soak.run --uploads 1000      (make soak)

The short variant runs inside `make test` (tests/soak/test_soak.py).
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import machine

from tests.soak import driver, snapshot
from tests.soak.deadlines import DeadlineError, deadline
from tests.soak.faults import FaultDriver, Supervisor
from tests.soak.invariants import Snapshot, Verdict, check
from tests.support import stack
from tests.support.ports import free_port

sys.path.insert(0, str(stack.ROOT / "deploy"))
import launcher

MiB = 1024 * 1024
# Invariants that hold once the system settled, before the final cleanup pass.
SETTLED = (
    "one state everywhere",
    "one asset per completed",
    "audit events complete",
    "outboxes and inboxes drained",
)


@dataclass
class SoakConfig:
    uploads: int
    concurrency: int = 12
    seed: int = 1
    min_fault_rounds: int = 1
    # None: rounds go on (with a rest between them) as long as the workload runs.
    max_fault_rounds: int | None = None
    settle_timeout_s: float = 180.0
    # Backstops over the whole workload and over one final cleanup pass: every wait inside
    # has a deadline of its own naming it; these catch what none names.
    load_deadline_s: float = 3600.0
    final_pass_s: float = 300.0


@dataclass
class SoakResult:
    verdicts: list[Verdict]
    figures: dict[str, Any]
    lines: list[str] = field(default_factory=list)

    @property
    def violations(self) -> int:
        return sum(len(verdict.violations) for verdict in self.verdicts)


def soak_env(stack_env: dict[str, str], namespace: str, tenants: list[str]) -> dict[str, str]:
    """The services' settings: short timeouts, leases and cleanup schedules, so that what a
    fault leaves behind is found and repaired within the soak. Cleanup's session jobs look at
    the soak's tenants only: the database may hold other tests' sessions, which a 60 s
    abandonment threshold must not fail and reconcile must not retry."""
    return {
        **os.environ,
        **stack_env,
        "INTAKE_NAMESPACE": namespace,
        "INTAKE_CLEANUP_TENANTS": ",".join(tenants),
        # Fewer partitions than production's 12: a Kafka restart reloads every partition on
        # disk, and on two shared cores that dominated the outage.
        "INTAKE_TOPIC_PARTITIONS": "4",
        "INTAKE_LOG_LEVEL": "INFO",
        "INTAKE_REQUEST_TIMEOUT_S": "10",
        "INTAKE_COMPLETE_TIMEOUT_S": "20",
        "INTAKE_DEFAULT_CHUNK_SIZE": str(5 * MiB),
        "INTAKE_MULTIPART_COPY_THRESHOLD": str(5 * MiB),
        "INTAKE_COMPLETION_LEASE_S": "5",
        "INTAKE_PROMOTION_SWEEP_S": "1",
        "INTAKE_CLEANUP_SCHEDULE": "on",
        "INTAKE_CLEANUP_FIRST_RUN_DELAY_S": "5",
        "INTAKE_ABANDONED_EVERY_S": "15",
        "INTAKE_ABANDONED_AFTER_S": "60",
        "INTAKE_EXPIRE_EVERY_S": "30",
        "INTAKE_RECONCILE_EVERY_S": "15",
        "INTAKE_RECONCILE_AFTER_S": "30",
        "INTAKE_ORPHAN_TEMP_EVERY_S": "30",
        "INTAKE_ORPHAN_MULTIPART_EVERY_S": "30",
        "INTAKE_ORPHAN_TEMP_AFTER_S": "120",
        "INTAKE_ORPHAN_MULTIPART_AFTER_S": "120",
    }


def s3_client(env: dict[str, str]) -> Any:
    return stack.s3_client(
        env, retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=30
    )


async def soak(config: SoakConfig, stack_env: dict[str, str], out: Any = sys.stdout) -> SoakResult:
    run_id = uuid.uuid4().hex[:6]
    namespace = f"soak-{run_id}"
    workload = driver.Workload(config.uploads, config.concurrency, config.seed, run_id)
    env = soak_env(stack_env, namespace, workload.tenants)
    log_dir = Path(env.get("INTAKE_STATE_DIR", stack.ROOT / ".state")) / "soak-logs" / run_id
    processes = launcher.build(
        env, log_dir, free_port(), {n: free_port() for n in launcher.DEFAULT_PORTS}
    )
    say = _printer(out)
    say(
        f"soak {run_id}: {config.uploads} uploads, {config.concurrency} clients, seed {config.seed}, logs {log_dir}"
    )
    started = time.monotonic()
    since = await snapshot.database_now(env["DATABASE_URL"])
    try:
        for process in processes.values():
            process.start()
        for process in processes.values():
            process.wait_ready(180)
        gateway = f"http://127.0.0.1:{processes['gateway'].api_port}"
        books = driver.Books()
        supervisor = Supervisor(processes)
        faults = FaultDriver(supervisor, {**os.environ}, seed=config.seed)
        stop_supervising = asyncio.Event()
        supervising = asyncio.create_task(supervisor.run(stop_supervising))
        try:
            await _load_under_faults(workload, gateway, books, faults, config)
            loaded = time.monotonic()
            say(f"workload and faults done in {loaded - started:.0f}s; settling")
            await supervisor.all_ready()
        finally:
            stop_supervising.set()
            await supervising
        settling = Settling(env, s3_client(env), books, since, config.settle_timeout_s, say)
        await settling.wait("after the workload")
        for jobs in (
            ["detect-abandoned", "expire-sessions", "reconcile"],
            ["orphaned-temp-objects", "orphaned-multipart"],
        ):
            say(*await _final_pass(env, jobs, config.final_pass_s))
            await settling.wait(f"after the pass {' '.join(jobs)}")
        settled = time.monotonic()
        books_now = await snapshot.read(
            env["DATABASE_URL"],
            settling.s3,
            sorted(books.tenants),
            books.answers,
            books.claims,
            since,
        )
        verdicts = check(books_now)
    finally:
        for process in reversed(list(processes.values())):
            process.stop()
        async with deadline(f"deleting the topics of namespace {namespace}", 120):
            await asyncio.to_thread(stack.delete_namespace_topics, env, namespace)
    figures = _figures(
        books, books_now, faults, loaded - started, settled - loaded, settled - started
    )
    figures["service restarts"] = dict(sorted(supervisor.restarts.items()))
    figures["exits no fault caused"] = dict(sorted(supervisor.unplanned.items()))
    result = SoakResult(verdicts, figures)
    say(*(f"fault {line}" for line in faults.log))
    for verdict in verdicts:
        say(verdict.line())
    for name, value in figures.items():
        say(f"{name}: {value}")
    say(f"violations: {result.violations}")
    return result


async def _load_under_faults(
    workload: driver.Workload,
    gateway: str,
    books: driver.Books,
    faults: FaultDriver,
    config: SoakConfig,
) -> None:
    done = asyncio.Event()

    async def load() -> None:
        try:
            await driver.run(workload, gateway, books)
        finally:
            done.set()

    # A task group, not gather: when one side fails, the other is cancelled instead of
    # running on unobserved (a fault driver still restarting Kafka, clients still retrying).
    rounds = (config.min_fault_rounds, config.max_fault_rounds)
    async with (
        deadline("workload and fault driver", config.load_deadline_s),
        asyncio.TaskGroup() as both,
    ):
        both.create_task(load())
        both.create_task(faults.run(done, *rounds))


@dataclass
class Settling:
    """Waits until the stores agree (or the deadline passes: the books then show what does
    not), saying every `report_every_s` which invariants it still waits for, so that a slow
    settle names its cause in the test's output."""

    env: dict[str, str]
    s3: Any
    books: driver.Books
    since: datetime
    timeout_s: float
    say: Callable[..., None]
    report_every_s: float = 30.0

    async def wait(self, phase: str) -> Snapshot:
        began = time.monotonic()
        next_report = began + self.report_every_s
        while True:
            current = await snapshot.read(
                self.env["DATABASE_URL"], self.s3, sorted(self.books.tenants), [], [], self.since
            )
            pending = [v for v in check(current) if v.name in SETTLED and v.violations]
            waited = time.monotonic() - began
            if not pending:
                self.say(f"settled {phase} in {waited:.1f}s")
                return current
            if waited > self.timeout_s:
                self.say(f"not settled {phase} after {waited:.0f}s: {_first(pending)}")
                return current
            if time.monotonic() >= next_report:
                self.say(f"settling {phase}, {waited:.0f}s: {_first(pending)}")
                next_report += self.report_every_s
            await asyncio.sleep(2)


def _first(pending: list[Verdict]) -> str:
    return "; ".join(f"{v.name}: {v.violations[0]} ({len(v.violations)})" for v in pending)


async def _final_pass(env: dict[str, str], jobs: list[str], deadline_s: float) -> list[str]:
    """The pass as a process of its own (its settings are zero thresholds), awaited without
    blocking the loop; it is killed, and the soak fails naming it, past `deadline_s`. It gets
    the soak's tenants from INTAKE_CLEANUP_TENANTS, as the soak's cleanup service does."""
    with tempfile.TemporaryFile() as errors:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.soak.final_pass",
            *jobs,
            env=env,
            cwd=stack.ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
        try:
            async with deadline(f"final cleanup pass {' '.join(jobs)}", deadline_s):
                output, _ = await process.communicate()
        except DeadlineError:
            process.kill()
            await process.wait()
            raise
        errors.seek(0)
        if process.returncode != 0:
            tail = errors.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"final cleanup pass {jobs} exited {process.returncode}: {tail}")
    return [f"cleanup pass: {line}" for line in output.decode().splitlines()]


def _figures(
    books: driver.Books,
    final: Snapshot,
    faults: FaultDriver,
    loaded_s: float,
    settle_s: float,
    total_s: float,
) -> dict[str, Any]:
    statuses = Counter(session.status for session in final.sessions.values())
    five_xx = Counter(a.status for a in books.answers if a.status >= 500)
    return {
        "uploads run": sum(books.outcomes.values()),
        "sessions created": len(final.sessions),
        "sessions by status": dict(sorted(statuses.items())),
        "scenario outcomes": dict(sorted(books.outcomes.items())),
        "faults by kind": dict(sorted(faults.injected.items())),
        "faults total": sum(faults.injected.values()),
        "retries": sum(books.retries.values()),
        "retries by reason": dict(books.retries.most_common(12)),
        "answers": len(books.answers),
        "5xx answers": dict(five_xx),
        "load+faults s": round(loaded_s, 1),
        "time to settle s": round(settle_s, 1),
        "wall s": round(total_s, 1),
    }


def _printer(out: Any) -> Any:
    def say(*lines: str) -> None:
        for line in lines:
            out.write(f"{line}\n")
        out.flush()

    return say


def main() -> None:
    parser = argparse.ArgumentParser(prog="soak", description=__doc__)
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--record", type=Path, help="write the figures as JSON here")
    parser.add_argument("--fault-rounds", type=int, help="at most this many rounds of faults")
    args = parser.parse_args()
    config = SoakConfig(
        args.uploads, args.concurrency, args.seed, max_fault_rounds=args.fault_rounds
    )
    load_before = os.getloadavg()
    result = asyncio.run(soak(config, stack.stack_env()))
    if args.record:
        record(args.record, config, result, load_before)
    sys.exit(1 if result.violations else 0)


def record(
    path: Path, config: SoakConfig, result: SoakResult, load_before: tuple[float, ...]
) -> None:
    """The run's figures with the machine and its load (other engineers share the cores)."""
    document = {
        "soak": {"uploads": config.uploads, "concurrency": config.concurrency, "seed": config.seed},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "invariants": [verdict.line() for verdict in result.verdicts],
        "violations": result.violations,
        "figures": result.figures,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
