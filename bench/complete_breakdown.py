"""Issue 15, fourth round: where the wall time of one sequential `complete` goes.

Every service runs as its own process on the running stack (as bench/cpu_per_op.py starts
them) with bench/breakdown_site/sitecustomize.py loaded, which stamps each Postgres
statement, Kafka request and reply, command handler, S3 call, promotion, outbox relay round
and event batch with the machine's monotonic clock. This process stamps each HTTP call. A
complete of a 64 KiB direct upload (uploaded before the clock starts) is then cut into:

- gateway in: the HTTP call until the gateway publishes CompleteUpload;
- hop to completion: that publish until completion's handler starts (produce, fetch, decode);
- completion's handler: its Postgres statements, the BeginCompletion and MarkCompleted
  requests (each split into the hop to initiation, initiation's handler, the hop back), the
  HEAD of the temp key, and the rest (completion's own code between them);
- reply to the gateway: the handler's end until the gateway has the reply;
- gateway out: until this process has the answer.

Two ways, in alternating blocks: back to back, and with a pause after each complete long
enough for its promotion, relay and event consumers to finish (`--pause-s`), which tells
queueing behind the previous complete's background work apart. Background work overlapping
each complete (promotions, relay rounds, event batches) is reported too.

    python -m bench.complete_breakdown [--completes 40] [--blocks 3] [--pause-s 1.0]
        [--checkout DIR]   # another checkout's services (its .venv), as bench/cpu_per_op.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from tests.support import stack

from bench.common import percentiles, write
from bench.control_plane import initiate_call
from bench.cpu_per_op import Bench, _commit, running_services, until_answering

SITE = Path(__file__).with_name("breakdown_site")
Stamp = tuple[str, str, str, int, int]  # process, name, session, start ns, end ns
BACKGROUND = ("promotion", "relay", "events", "s3 COPY", "s3 DELETE")


def read_stamps(folder: Path) -> list[Stamp]:
    stamps: list[Stamp] = []
    for path in folder.glob("*.jsonl"):
        process = path.name.split("-")[1]
        for line in path.read_text().splitlines():
            name, key, start, end = json.loads(line)
            stamps.append((process, name, key, start, end))
    return stamps


def ms(ns: int) -> float:
    return ns / 1e6


def one_complete(
    stamps: list[Stamp], session: str, started: int, ended: int
) -> dict[str, float] | None:
    """The parts of one complete's wall time, in ms; None when a stamp is missing."""
    mine = [s for s in stamps if s[2] == session and started <= s[3] <= ended]
    gateway = _find(mine, "gateway", "request completion.complete")
    handler = _find(mine, "completion", "handle completion.complete")
    if gateway is None or handler is None:
        return None
    parts: dict[str, float] = defaultdict(float)
    parts["total"] = ms(ended - started)
    parts["gateway in"] = ms(gateway[3] - started)
    parts["hop to completion"] = ms(handler[3] - gateway[3])
    parts["completion handler"] = ms(handler[4] - handler[3])
    parts["completion own code"] = parts["completion handler"] - _handler_calls(
        mine, handler, parts
    )
    for process, name, _, start, end in mine:
        if process == "initiation" and name.startswith("pg "):
            parts[f"initiation {name}"] += ms(end - start)
    parts["reply to gateway"] = ms(gateway[4] - handler[4])
    parts["gateway out"] = ms(ended - gateway[4])
    _overlapping(stamps, session, started, ended, parts)
    return parts


def _find(mine: list[Stamp], process: str, name: str) -> Stamp | None:
    return next((s for s in mine if s[0] == process and s[1] == name), None)


def _handler_calls(mine: list[Stamp], handler: Stamp, parts: dict[str, float]) -> float:
    """Adds completion's statements, requests (cut at initiation's handler) and S3 calls
    inside its handler to `parts`; the ms they took together."""
    accounted = 0.0
    for process, name, _, start, end in mine:
        inside = process == "completion" and handler[3] <= start and end <= handler[4]
        if not inside or not name.startswith(("pg ", "s3 ", "request ")):
            continue
        if name.startswith("request "):
            command = name.removeprefix("request ")
            served = _find(mine, "initiation", f"handle {command}")
            if served is not None:
                parts[f"{command}: hop out"] += ms(served[3] - start)
                parts[f"{command}: initiation handler"] += ms(served[4] - served[3])
                parts[f"{command}: hop back"] += ms(end - served[4])
        parts[f"completion {name}"] += ms(end - start)
        accounted += ms(end - start)
    return accounted


def _overlapping(
    stamps: list[Stamp], session: str, started: int, ended: int, parts: dict[str, float]
) -> None:
    """Background work that ran during the complete: its own promotion, the previous one's,
    the relays' rounds and the consumers' batches."""
    for process, name, key, start, end in stamps:
        overlap = min(end, ended) - max(start, started)
        if overlap <= 0 or not name.startswith(BACKGROUND):
            continue
        kind = name.split(" ")[0] if not name.startswith("s3") else name
        if kind in {"relay", "events"}:  # not tied to one session
            label = f"{kind} {process}"
        else:
            label = f"{kind} ({'own' if key == session else 'previous'})"
        parts[f"overlapping: {label}"] += ms(overlap)


def summarize(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    names = sorted({name for row in rows for name in row})
    return {
        name: {
            "p50": round(statistics.median([row.get(name, 0.0) for row in rows]), 2),
            "mean": round(statistics.fmean([row.get(name, 0.0) for row in rows]), 2),
        }
        for name in names
    }


async def run(gateway: str, database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    database = await asyncpg.connect(database_url)
    calls: dict[str, list[tuple[str, int, int]]] = {"back_to_back": [], "paused": []}
    async with (
        httpx.AsyncClient(base_url=gateway, timeout=60) as api,
        httpx.AsyncClient(timeout=60) as raw,
    ):
        bench = Bench(api, raw, database)
        await until_answering(initiate_call(api, bench.headers, bench.brand, 1000))
        for _ in range(5):
            await bench.complete_call([await bench.direct_session()])()
        for _ in range(args.blocks):
            for mode, done in calls.items():
                sessions = [await bench.direct_session() for _ in range(args.completes)]
                await bench.settled()
                for session in sessions:
                    started = time.monotonic_ns()
                    await bench.complete_call([session])()
                    done.append((session, started, time.monotonic_ns()))
                    if mode == "paused":
                        await asyncio.sleep(args.pause_s)
    await database.close()
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--completes", type=int, default=40, help="completes per block and way")
    parser.add_argument("--blocks", type=int, default=3, help="blocks of each way, alternating")
    parser.add_argument("--pause-s", type=float, default=1.0, help="pause after each complete")
    parser.add_argument("--name", default="complete_breakdown", help="result file name")
    parser.add_argument("--checkout", type=Path, default=stack.ROOT, help="Intake checkout to run")
    args = parser.parse_args()
    stack_env = stack.native_env()
    folder = stack.ROOT / ".state" / "breakdown" / uuid.uuid4().hex[:8]
    folder.mkdir(parents=True)
    env = {
        **os.environ,
        **stack_env,
        "INTAKE_ENV": "local",
        "INTAKE_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}",
        "INTAKE_CLEANUP_SCHEDULE": "off",
        "INTAKE_REQUEST_TIMEOUT_S": "60",
        "INTAKE_BREAKDOWN_DIR": str(folder),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH")])),
    }
    load_before = os.getloadavg()
    checkout = args.checkout.resolve()
    with running_services(checkout, env) as processes:
        gateway = f"http://127.0.0.1:{processes['gateway'].api_port}"
        calls = asyncio.run(run(gateway, stack_env["DATABASE_URL"], args))
    stamps = read_stamps(folder)
    figures: dict[str, Any] = {
        "pause_s": args.pause_s,
        "stamp_folder": str(folder),
        "checkout": {"path": str(checkout), "commit": _commit(checkout)},
    }
    for mode, done in calls.items():
        rows = [row for call in done if (row := one_complete(stamps, *call)) is not None]
        figures[mode] = {
            "completes": len(done),
            "broken_down": len(rows),
            "latency_ms": percentiles([ms(end - start) for _, start, end in done]),
            "parts_ms": summarize(rows),
        }
    figures["load_average"] = {"before": load_before, "after": os.getloadavg()}
    print(write(args.name, figures))
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
