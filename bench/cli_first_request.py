"""Time from exec of `intake` to its first HTTP request arriving, per command.

A local HTTP server in this process notes when each request arrives; the clock starts just
before the command is spawned, so the figure includes the interpreter's own start-up. The
server refuses every request (the CLI then exits), so nothing but start-up is measured.
Python's bare start-up (`python -c pass`, exec to exit) is measured beside it as the floor.

    uv run python -m bench.cli_first_request [--runs N] [--client-src DIR]

`--client-src` runs `python -m intake_client.cli` from another copy of the client's sources
(e.g. `git worktree` of an older commit) instead of the installed `intake`: before and after.
"""

import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import write
from intake_client import tokens

BIN = Path(sys.executable).parent


TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) the process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S * 1000


class FirstRequest(http.server.BaseHTTPRequestHandler):
    # Shared by every handler instance, on purpose: the client being measured, and what it
    # had spent when its first request arrived.
    client_pid = 0
    spawned = threading.Event()  # set once client_pid names the running client
    arrivals: list[float] = []
    cpu_at_arrival: list[float] = []

    def _refuse(self) -> None:
        FirstRequest.arrivals.append(time.perf_counter())
        if len(FirstRequest.arrivals) == 1:
            # On a busy machine the request can beat the spawner to recording the pid; the
            # client waits for this answer meanwhile, so its CPU time does not move.
            FirstRequest.spawned.wait(10)
            FirstRequest.cpu_at_arrival.append(cpu_ms(FirstRequest.client_pid))
        body = json.dumps({"code": "bench", "status": 503, "detail": "bench"}).encode()
        self.send_response(422)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _refuse  # noqa: N815 - http.server's naming

    def log_message(self, *_: Any) -> None:
        pass


def first_request_ms(command: list[str], env: dict[str, str]) -> float:
    """Wall time from spawning `command` to its first request (its CPU time is kept apart)."""
    FirstRequest.arrivals.clear()
    FirstRequest.spawned.clear()
    quiet = subprocess.DEVNULL
    started = time.perf_counter()
    with subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet) as process:
        FirstRequest.client_pid = process.pid
        FirstRequest.spawned.set()
        process.wait(timeout=60)
    if not FirstRequest.arrivals:
        raise RuntimeError(f"{command[1]} sent no request")
    return (FirstRequest.arrivals[0] - started) * 1000


def floor_ms() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.perf_counter() - started) * 1000


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": round(statistics.median(samples), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
    }


def measure(runs: int, client_src: Path | None) -> dict[str, Any]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FirstRequest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = tokens.mint("bench-cli", ["bench"])
    env = {
        **os.environ,
        "INTAKE_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "INTAKE_TOKEN": token,
    }
    intake = [str(BIN / "intake")]
    if client_src is not None:
        env["PYTHONPATH"] = str(client_src)
        intake = [sys.executable, "-m", "intake_client.cli"]
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "one.bin"
        file.write_bytes(os.urandom(1024))
        state = ["--state-file", str(Path(folder) / "state.json")]
        commands = {
            "status": [*intake, "status", str(uuid.uuid4())],
            "upload_quiet": [*intake, "upload", str(file), "--quiet", *state],
            "upload_with_bars": [*intake, "upload", str(file), *state],
        }
        figures: dict[str, Any] = {"python_floor": summary([floor_ms() for _ in range(runs)])}
        for name, command in commands.items():
            first_request_ms(command, env)  # warm the page cache
            FirstRequest.cpu_at_arrival.clear()
            figures[name] = summary([first_request_ms(command, env) for _ in range(runs)])
            # On a shared machine wall time is mostly waiting for a core; start-up is
            # single-threaded and CPU-bound, so its CPU time is what an idle machine would wait.
            figures[f"{name}_cpu"] = summary(FirstRequest.cpu_at_arrival)
    server.shutdown()
    figures["load_average_during_run"] = Path("/proc/loadavg").read_text().split()[:3]
    figures["target_ms"] = 150
    figures["clock_tick_ms"] = round(TICK_S * 1000, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--client-src", type=Path, default=None)
    parser.add_argument("--name", default="cli_first_request", help="result file name")
    args = parser.parse_args()
    figures = measure(args.runs, args.client_src)
    figures["client"] = str(args.client_src or "installed intake")
    print(write(args.name, figures))
    for name, values in figures.items():
        print(name, values)


if __name__ == "__main__":
    main()
