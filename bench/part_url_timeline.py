"""Where one sequential part URL's time goes: HTTP in, the gateway's publish, the broker, the
consumer's wake-up, the work, the reply's publish, the reply consumer's wake-up, HTTP out.

The gateway and initiation run as processes of their own (bench/cpu_per_op.py's launcher, a
Kafka namespace of their own) with bench/probe on their PYTHONPATH: its sitecustomize writes a
CLOCK_MONOTONIC timestamp at each step (one clock for every process of the machine). This
load generator stamps each request's send and answer with the same clock. The calls are
sequential, so every step of a request lies between its send and its answer; the table gives
each segment's median and p90 over the requests, and the CPU per part URL of each process.

    python -m bench.part_url_timeline --requests 300

The segments marked Kafka are a produce request on the wire (acks=all) and a fetch held at the
broker until the record arrives; every other segment is Python in one process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from tests.support import stack, tokens

from bench import cpu
from bench.common import write
from bench.control_plane import initiate_call
from bench.cpu_per_op import running_services

MiB = 1024 * 1024
PROBE = Path(__file__).resolve().parent / "probe"

# (segment, from step, to step, where the time goes); steps are "process:step" (gw: the
# gateway, svc: initiation), each the first mark of its name inside the request's window.
SEGMENTS = (
    ("client -> gateway's ASGI app", "client:send", "gw:http.in", "python"),
    ("routing, JWT, body, DI -> request()", "gw:http.in", "gw:gw.request.start", "python"),
    ("envelope -> publish()", "gw:gw.request.start", "gw:gw.publish.start", "python"),
    ("publish() -> on the wire (linger)", "gw:gw.publish.start", "gw:produce.wire.start", "python"),
    ("command produce, acks=all", "gw:produce.wire.start", "gw:produce.wire.end", "kafka"),
    ("command sent -> service's fetch", "gw:produce.wire.start", "svc:fetch.data", "kafka"),
    ("fetch -> handler (getone)", "svc:fetch.data", "svc:svc.dispatch.start", "python"),
    ("dispatch: decode, work, encode", "svc:svc.dispatch.start", "svc:svc.dispatch.end", "py+pg"),
    ("reply publish() -> on the wire", "svc:svc.reply.start", "svc:produce.wire.start", "python"),
    ("reply produce, acks=all", "svc:produce.wire.start", "svc:produce.wire.end", "kafka"),
    ("reply sent -> gateway's fetch", "svc:produce.wire.start", "gw:fetch.data", "kafka"),
    ("fetch -> reply resolved (getone)", "gw:fetch.data", "gw:gw.reply.end", "python"),
    ("future -> request() returns", "gw:gw.reply.end", "gw:gw.request.end", "python"),
    ("result -> response start", "gw:gw.request.end", "gw:http.response", "python"),
    ("response -> client has it", "gw:http.response", "client:answer", "python"),
)


def read_probe(folder: Path, program: str) -> list[tuple[int, str]]:
    marks: list[tuple[int, str]] = []
    for path in folder.glob(f"{program}-*.log"):
        for line in path.read_text().splitlines():
            step, at = line.rsplit(" ", 1)
            marks.append((int(at), step))
    return sorted(marks)


def timeline(
    window: tuple[int, int], gateway: list[tuple[int, str]], service: list[tuple[int, str]]
) -> dict[str, list[int]]:
    """Every mark inside one request's window, by step, in time order."""
    steps: dict[str, list[int]] = {"client:send": [window[0]], "client:answer": [window[1]]}
    for prefix, marks in (("gw", gateway), ("svc", service)):
        for at, step in marks:
            if window[0] <= at <= window[1]:
                steps.setdefault(f"{prefix}:{step}", []).append(at)
    return steps


def span_ms(steps: dict[str, list[int]], start: str, end: str) -> float | None:
    """From the first `start` mark to the first `end` mark after it."""
    if start not in steps or end not in steps:
        return None
    began = steps[start][0]
    ended = next((at for at in steps[end] if at >= began), None)
    return None if ended is None else (ended - began) / 1e6


def segments(steps: list[dict[str, list[int]]]) -> list[dict[str, Any]]:
    rows = []
    for name, start, end, kind in SEGMENTS:
        spans = [s for s in (span_ms(one, start, end) for one in steps) if s is not None]
        if not spans:
            continue
        ordered = sorted(spans)
        rows.append(
            {
                "segment": name,
                "kind": kind,
                "n": len(spans),
                "p50_ms": round(statistics.median(ordered), 3),
                "p90_ms": round(ordered[int(len(ordered) * 0.9)], 3),
            }
        )
    return rows


class RawClient:
    """One keep-alive HTTP/1.1 connection with the request's bytes built once: what is left of
    the client's share of a request is a socket write and read (httpx spends ~3 ms of CPU per
    request on this machine, which shows in the client's segments)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> RawClient:
        address = httpx.URL(url)
        return cls(*await asyncio.open_connection(address.host, address.port))

    async def post(self, request: bytes) -> int:
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await self._reader.readexactly(length)
        return int(head.split(b" ", 2)[1])

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


def raw_request(path: str, headers: dict[str, str]) -> bytes:
    body = json.dumps({"part_number": 1}).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


async def run(
    gateway_url: str, requests: int, pids: dict[str, list[int]], client: str
) -> dict[str, Any]:
    tenant, brand = tokens.new_tenant(), "bench"
    headers = {"Authorization": f"Bearer {tokens.mint(tenant, [brand])}"}
    windows: list[tuple[int, int]] = []
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as api:
        session = None
        for _ in range(180):  # a fresh namespace's consumer groups take a while to form
            try:
                session = await initiate_call(api, headers, brand, 40 * MiB)()
                break
            except httpx.HTTPError:
                await asyncio.sleep(1)
        if session is None:
            raise SystemExit("the gateway never answered an initiate")
        path = f"/app/uploads/{session['upload_session_id']}/multipart-part-url"
        raw = await RawClient.open(gateway_url) if client == "raw" else None
        request = raw_request(path, headers)

        async def part_url() -> tuple[int, int]:
            sent = time.monotonic_ns()
            if raw is not None:
                status = await raw.post(request)
            else:
                answer = await api.post(path, json={"part_number": 1}, headers=headers)
                status = answer.status_code
            answered = time.monotonic_ns()
            if status != 200:
                raise RuntimeError(f"part URL answered {status}")
            return sent, answered

        for _ in range(50):  # warm-up: connections, every partition's owner fetched once
            await part_url()
        await asyncio.sleep(1)
        before = cpu.snapshot(pids)
        started = time.monotonic()
        for _ in range(requests):
            windows.append(await part_url())
        wall_s = time.monotonic() - started
        after = cpu.snapshot(pids)
        if raw is not None:
            await raw.close()
    totals = sorted((b - a) / 1e6 for a, b in windows)
    return {
        "client": client,
        "windows": windows,
        "total_p50_ms": round(statistics.median(totals), 3),
        "total_p90_ms": round(totals[int(len(totals) * 0.9)], 3),
        "rps": round(requests / wall_s, 1),
        "cpu_ms_per_part_url": cpu.per_operation_ms(before, after, requests),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="sequential part URLs")
    parser.add_argument("--name", default="part_url_timeline", help="result file name")
    parser.add_argument("--label", default="", help="what this run measures (kept in the result)")
    parser.add_argument(
        "--client", choices=("httpx", "raw"), default="httpx", help="the load generator's HTTP"
    )
    parser.add_argument(
        "--checkout", type=Path, default=stack.ROOT, help="Intake checkout whose services run"
    )
    args = parser.parse_args()
    probe_dir = Path(tempfile.mkdtemp(prefix="intake-probe-"))
    stack_env = stack.native_env()
    env = {
        **os.environ,
        **stack_env,
        "INTAKE_ENV": "local",
        "INTAKE_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}",
        "INTAKE_LOG_LEVEL": os.environ.get("INTAKE_LOG_LEVEL", "WARNING"),
        "INTAKE_CLEANUP_SCHEDULE": "off",
        "INTAKE_PROBE_DIR": str(probe_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROBE), os.environ.get("PYTHONPATH")])),
    }
    os.environ["INTAKE_ONLY_SERVICES"] = "gateway,initiation"  # read by the launcher
    state = Path(stack_env.get("INTAKE_STATE_DIR", stack.ROOT / ".state")).resolve()
    with running_services(args.checkout.resolve(), env) as processes:
        pids = {name: [p.process.pid] for name, p in processes.items()}
        pids |= {"kafka": cpu.stack_pids(state)["kafka"], "load generator": [os.getpid()]}
        gateway = f"http://127.0.0.1:{processes['gateway'].api_port}"
        figures = asyncio.run(run(gateway, args.requests, pids, args.client))
    gateway_marks = read_probe(probe_dir, "intake-gateway")
    service_marks = read_probe(probe_dir, "intake-initiation")
    steps = [timeline(w, gateway_marks, service_marks) for w in figures.pop("windows")]
    figures["segments"] = segments(steps)
    figures["label"] = args.label
    figures["checkout"] = str(args.checkout.resolve())
    figures["load_average"] = os.getloadavg()
    print(write(args.name, figures))
    print(f"total p50 {figures['total_p50_ms']} ms, p90 {figures['total_p90_ms']} ms")
    for row in figures["segments"]:
        print(f"{row['p50_ms']:>8} {row['p90_ms']:>8}  {row['kind']:<16} {row['segment']}")
    print("CPU ms per part URL:", figures["cpu_ms_per_part_url"])
    print("load average:", figures["load_average"])
    print("probe files:", probe_dir)


if __name__ == "__main__":
    main()
