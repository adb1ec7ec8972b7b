"""CPU time per operation of every process of the system, beside latency and throughput.

CPU per operation (from /proc, for the gateway, each service, Kafka, Postgres, SeaweedFS and
this load generator) is the figure that stays steady on a busy machine; latency and rate are
recorded with it. Operations, each timed and measured on its own with the event consumers
caught up before the CPU is read again:

- initiate at concurrency 16, then sequentially;
- part URL sequentially (one part of a multipart session);
- complete of a small direct upload (64 KiB, already uploaded before the clock starts),
  promotion included (the CPU is read after the Asset is promoted);
- the event consumers: audit and cleanup CPU per event they consumed during all of the above;
- the in-process floor (initiate and part URL without gateway and Kafka).

The services run as processes of their own (free ports, a Kafka namespace of their own) on
the running native stack. `--checkout DIR` runs the services (and the floor) of another
checkout of Intake, with that checkout's own virtual environment, against the same stack, so
that before and after are measured in one sitting:

    git worktree add /work/wt-before bcf4dfe && (cd /work/wt-before && uv sync --frozen)
    python -m bench.cpu_per_op --checkout /work/wt-before --name cpu_per_op_before
    python -m bench.cpu_per_op --name cpu_per_op
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.util
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import httpx
from tests.support import stack, tokens
from tests.support.ports import free_port

from bench import cpu
from bench.common import drop_unrelayed_bench_events, percentiles, write
from bench.control_plane import initiate_call, run_concurrently, timed

MiB = 1024 * 1024
DIRECT_SIZE = 64 * 1024
SERVICES = ("initiation", "completion", "cleanup", "audit", "gateway")
CONSUMERS = ("audit", "cleanup")
STACK = ("postgres", "seaweedfs")


def load_launcher(checkout: Path) -> ModuleType:
    """The checkout's own launcher: it starts the checkout's entry points from its .venv."""
    spec = importlib.util.spec_from_file_location(
        f"launcher_{abs(hash(checkout))}", checkout / "deploy" / "launcher.py"
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"{checkout} has no deploy/launcher.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@contextmanager
def running_services(checkout: Path, env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Every service of `checkout` as a process of its own, in a namespace of its own."""
    if not (checkout / ".venv" / "bin" / "intake-gateway").exists():
        raise SystemExit(f"{checkout}/.venv has no services: run `uv sync --frozen` there first")
    launcher = load_launcher(checkout)
    ports = {name: free_port() for name in launcher.DEFAULT_PORTS}
    log_dir = stack.ROOT / ".state" / "bench-logs" / uuid.uuid4().hex[:8]
    processes = launcher.build(env, log_dir, free_port(), ports)
    try:
        for process in processes.values():
            process.start()
        for process in processes.values():
            process.wait_ready(180)
        yield processes
    finally:
        for process in reversed(list(processes.values())):
            process.stop()
        stack.delete_namespace_topics(env, env["INTAKE_NAMESPACE"])


class Meter:
    """CPU seconds of every process, read before and after an operation's run."""

    def __init__(self, state_dir: Path, services: dict[str, int]) -> None:
        self.state_dir = state_dir
        self.services = services
        self.idle_s_per_s: dict[str, float] = {}

    def pids(self) -> dict[str, list[int]]:
        # Postgres forks a backend per connection: they are found again at every reading.
        found = {name: [pid] for name, pid in self.services.items()}
        return found | cpu.stack_pids(self.state_dir) | {"load generator": [os.getpid()]}

    def read(self) -> dict[str, float]:
        return cpu.snapshot(self.pids())


class Bench:
    def __init__(
        self, api: httpx.AsyncClient, raw: httpx.AsyncClient, database: asyncpg.Connection
    ) -> None:
        # One connection for the whole run: a new one per poll would fork a Postgres backend
        # each time and charge that to every operation.
        self.api, self.raw, self.database = api, raw, database
        self.tenant, self.brand = tokens.new_tenant(), "bench"
        self.headers = {"Authorization": f"Bearer {tokens.mint(self.tenant, [self.brand])}"}

    async def audited(self) -> int:
        """Events audit has written for this run's tenant: the consumers' progress."""
        count = await self.database.fetchval(
            "SELECT count(*) FROM audit.events WHERE tenant_id = $1", self.tenant
        )
        return int(count)

    async def settled(self, quiet_s: float = 1.5, deadline_s: float = 60.0) -> int:
        """Wait until audit has written no new event for `quiet_s`: the consumers (and the
        relays before them) are done with what the operation caused."""
        stop_at = time.monotonic() + deadline_s
        last, since = await self.audited(), time.monotonic()
        while time.monotonic() < stop_at:
            await asyncio.sleep(0.25)
            now = await self.audited()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                break
        return last

    async def direct_session(self) -> str:
        session = await initiate_call(self.api, self.headers, self.brand, DIRECT_SIZE)()
        direct = session["direct"]
        put = await self.raw.put(
            direct["url"], content=os.urandom(DIRECT_SIZE), headers=direct["headers"]
        )
        put.raise_for_status()
        return str(session["upload_session_id"])

    def complete_call(self, session_ids: list[str]) -> Callable[[], Awaitable[Any]]:
        pending = iter(session_ids)

        async def call() -> None:
            answer = await self.api.post(
                "/app/assets/upload/complete",
                json={"upload_session_id": next(pending)},
                headers=self.headers,
            )
            if answer.status_code != 201:
                raise RuntimeError(f"complete answered {answer.status_code}: {answer.text}")

        return call


async def measure_phase(
    bench: Bench,
    meter: Meter,
    operations: int,
    run: Callable[[], Awaitable[tuple[list[float], float]]],
) -> tuple[dict[str, Any], int]:
    """Latency, rate and CPU per operation of one run; and the events it caused."""
    events_before = await bench.settled()
    before, started = meter.read(), time.monotonic()
    samples, rate = await run()
    events_after = await bench.settled()
    after, wall_s = meter.read(), time.monotonic() - started
    # The wait for the consumers to settle is idle time every process spends anyway.
    net = {name: after[name] - meter.idle_s_per_s.get(name, 0.0) * wall_s for name in after}
    figures = {
        **percentiles(samples),
        "rps": round(rate, 1),
        "cpu_ms_per_op": cpu.per_operation_ms(before, after, operations),
        "cpu_ms_per_op_net_of_idle": cpu.per_operation_ms(before, net, operations),
        "wall_s_with_settling": round(wall_s, 1),
    }
    events = events_after - events_before
    figures["events_per_op"] = round(events / operations, 2)
    return figures, events


def once_more_on_reset(call: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
    """A keep-alive connection the gateway closed just as it was reused fails with a read
    error before the request reached it: send it again, once."""

    async def again() -> Any:
        try:
            return await call()
        except (httpx.ReadError, httpx.RemoteProtocolError):
            return await call()

    return again


async def until_answering(call: Callable[[], Awaitable[Any]], deadline_s: float = 180) -> None:
    """A fresh stack's consumer groups take a while to form: calls fail (504) until then."""
    stop_at, answered = time.monotonic() + deadline_s, 0
    while answered < 10:
        try:
            await call()
            answered += 1
        except httpx.HTTPError:
            if time.monotonic() > stop_at:
                raise
            answered = 0
            await asyncio.sleep(1)


async def sequentially(call: Callable[[], Awaitable[Any]], total: int) -> tuple[list[float], float]:
    started = time.perf_counter()
    samples = [await timed(call) for _ in range(total)]
    return samples, total / (time.perf_counter() - started)


async def measure(
    gateway: str, meter: Meter, database_url: str, counts: argparse.Namespace
) -> dict[str, Any]:
    requests, sequential, completes = counts.requests, counts.sequential, counts.completes
    phases = set(counts.phases.split(","))
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    figures: dict[str, Any] = {}
    consumed: dict[str, float] = dict.fromkeys(CONSUMERS, 0.0)
    events = 0
    database = await asyncpg.connect(database_url)
    async with (
        httpx.AsyncClient(base_url=gateway, timeout=60, limits=limits) as api,
        httpx.AsyncClient(timeout=60) as raw,
    ):
        bench = Bench(api, raw, database)
        initiate = once_more_on_reset(initiate_call(api, bench.headers, bench.brand, 1000))
        await until_answering(initiate)
        await run_concurrently(initiate, 100, 16)  # warm-up: connections, partition owners
        for _ in range(5):
            await bench.complete_call([await bench.direct_session()])()

        async def phase(name: str, count: int, call: Callable[[], Awaitable[Any]], c: int) -> None:
            nonlocal events
            if c > 1:
                run = functools.partial(run_concurrently, call, count, c)
            else:
                run = functools.partial(sequentially, call, count)
            figures[name], caused = await measure_phase(bench, meter, count, run)
            events += caused
            for consumer in CONSUMERS:
                consumed[consumer] += figures[name]["cpu_ms_per_op_net_of_idle"][consumer] * count

        if "initiate" in phases:
            await phase("initiate_c16", requests, initiate, 16)
            await phase("initiate_sequential", sequential, initiate, 1)
        if "part_url" in phases:
            session = await initiate_call(api, bench.headers, bench.brand, 40 * MiB)()
            path = f"/app/uploads/{session['upload_session_id']}/multipart-part-url"

            async def part_url() -> None:
                answer = await api.post(path, json={"part_number": 1}, headers=bench.headers)
                answer.raise_for_status()

            await phase("part_url_sequential", sequential, part_url, 1)
        if "complete" in phases:
            sessions = [await bench.direct_session() for _ in range(completes)]
            await phase("complete_direct_64KiB", completes, bench.complete_call(sessions), 1)
    await database.close()
    figures["events_consumed"] = events
    figures["event_consumers_cpu_ms_per_event"] = {
        name: round(spent / max(events, 1), 3) for name, spent in consumed.items()
    }
    return figures


def floor(checkout: Path, env: dict[str, str], rounds: int, meter: Meter) -> dict[str, Any]:
    """The checkout's own in-process floor, in its own interpreter, with its CPU per initiate
    (the floor process, Postgres and SeaweedFS)."""
    # On the loop the checkout's services run on: uvloop where it has it (issue 15 put it in
    # every service), asyncio's own before that.
    script = (
        "import asyncio, json, time\n"
        "try:\n"
        "    from uvloop import run\n"
        "except ImportError:\n"
        "    run = asyncio.run\n"
        "from bench import floor\n"
        "started = time.process_time()\n"
        f"figures = run(floor.measure({rounds}))\n"
        "figures['process_cpu_s'] = time.process_time() - started\n"
        "print(json.dumps(figures))\n"
    )
    started = meter.read()
    process = subprocess.run(
        [str(checkout / ".venv" / "bin" / "python"), "-c", script],
        cwd=checkout,
        env={**env, "PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
        check=True,
    )
    ended = meter.read()
    figures: dict[str, Any] = json.loads(process.stdout.strip().splitlines()[-1])
    # Both operations ran `rounds` times: CPU per (initiate + part URL) pair, start-up and
    # connection set-up of the floor's process left out (it times only its measure()).
    spent = {name: (ended[name] - started[name]) * 1000 / rounds for name in STACK}
    spent["floor process"] = figures.pop("process_cpu_s") * 1000 / rounds
    figures["cpu_ms_per_initiate_and_part_url"] = {
        **{name: round(ms, 2) for name, ms in spent.items()},
        "total": round(sum(spent.values()), 2),
    }
    return figures


def service_rss_mib(processes: dict[str, Any]) -> dict[str, float]:
    sizes = {}
    for name, process in processes.items():
        if process.process is None:
            continue
        status = Path(f"/proc/{process.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM"):
                sizes[name] = round(int(line.split()[1]) / 1024, 1)
    return sizes


def measure_idle(meter: Meter, seconds: float = 5.0) -> dict[str, float]:
    """What every process spends doing nothing for a second: polls, heartbeats, timers."""
    before = meter.read()
    time.sleep(seconds)
    after = meter.read()
    meter.idle_s_per_s = {name: (after[name] - before[name]) / seconds for name in after}
    return {name: round(value * 1000, 2) for name, value in meter.idle_s_per_s.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, default=stack.ROOT, help="Intake checkout to run")
    parser.add_argument("--requests", type=int, default=600, help="initiates at concurrency 16")
    parser.add_argument("--sequential", type=int, default=200, help="sequential calls per kind")
    parser.add_argument("--completes", type=int, default=100, help="completes of 64 KiB")
    parser.add_argument(
        "--phases", default="initiate,part_url,complete,floor", help="a subset, comma separated"
    )
    parser.add_argument("--name", default="cpu_per_op", help="result file name")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    stack_env = stack.native_env()
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        **stack_env,
        "INTAKE_ENV": "local",
        "INTAKE_NAMESPACE": namespace,
        "INTAKE_LOG_LEVEL": os.environ.get("INTAKE_LOG_LEVEL", "INFO"),
        "INTAKE_CLEANUP_SCHEDULE": "off",
        # A loaded machine can take seconds per call at c16: wait rather than fail the run.
        "INTAKE_REQUEST_TIMEOUT_S": "60",
    }
    state = Path(stack_env.get("INTAKE_STATE_DIR", stack.ROOT / ".state")).resolve()
    asyncio.run(drop_unrelayed_bench_events(stack_env["DATABASE_URL"]))
    with running_services(checkout, env) as processes:
        meter = Meter(state, {name: p.process.pid for name, p in processes.items()})
        gateway = f"http://127.0.0.1:{processes['gateway'].api_port}"
        time.sleep(5)  # start-up work (topic creation, first fetches) out of the idle figure
        idle = measure_idle(meter)
        figures = asyncio.run(measure(gateway, meter, stack_env["DATABASE_URL"], args))
        figures["idle_cpu_ms_per_s"] = idle
        figures["service_peak_rss_mib"] = service_rss_mib(processes)
        if "floor" in args.phases:
            try:
                figures["floor"] = floor(checkout, env, args.sequential, meter)
            except subprocess.CalledProcessError as error:  # the other figures still count
                figures["floor"] = {"error": error.stderr.strip().splitlines()[-1:]}
            asyncio.run(drop_unrelayed_bench_events(stack_env["DATABASE_URL"]))
    figures["checkout"] = {"path": str(checkout), "commit": _commit(checkout)}
    figures["load_average"] = os.getloadavg()
    print(write(args.name, figures))
    print(json.dumps(figures, indent=1))


def _commit(checkout: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


if __name__ == "__main__":
    main()
