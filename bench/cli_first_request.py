"""Time from exec of `intake` to its first HTTP request arriving, per command, and the floors
that time stands on.

A local HTTP server in this process notes when each request arrives and the CPU time the
client had used by then (every thread's /proc/PID/task/TID/schedstat, in nanoseconds; the
client is blocked waiting for the answer, so the reading holds still). The clock starts just
before the command is spawned, so the figure includes the interpreter's own start-up. The
server refuses every request (the CLI then exits), so nothing but start-up is measured.

The floors, each timed from exec to exit (wall) with the CPU the OS accounts to the child:
`python -c pass` (the interpreter with this venv's site and .pth files), `python -S -c pass`
(no site), `python -I -c pass` (isolated), and `python -c "import argparse, http.client,
json"`: the standard library no first request of this CLI can do without.

    .venv/bin/python -m bench.cli_first_request [--runs N] [--before REV]

`--before REV` also runs the client of git revision REV (its client/src, compiled, in a
temporary folder, put first on PYTHONPATH under the same `intake` script), interleaved run
by run with the current one: figures `before_*`, same sitting, same load.

The client's bytecode is compiled first (`compileall`, as a wheel install has it): this
environment sets PYTHONDONTWRITEBYTECODE=1 and the workspace's editable install leaves the
client's sources uncompiled, so otherwise every run would compile them again.
"""

import argparse
import compileall
import http.server
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import write
from intake_client import tokens

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FLOORS = {
    "python_floor": ["-c", "pass"],
    "python_no_site": ["-S", "-c", "pass"],
    "python_isolated": ["-I", "-c", "pass"],
    "stdlib_floor": ["-c", "import argparse, http.client, json"],
}


def cpu_ms(pid: int) -> float:
    """CPU time every thread of the process has used so far (scheduler accounting, ns)."""
    total_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total_ns += int((task / "schedstat").read_text().split()[0])
    return total_ns / 1e6


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
        body = json.dumps({"code": "bench", "status": 422, "detail": "bench"}).encode()
        self.send_response(422)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _refuse  # noqa: N815 - http.server's naming

    def log_message(self, *_: Any) -> None:
        pass


def first_request(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall ms from spawning `command` to its first request, and its CPU ms by then."""
    FirstRequest.arrivals.clear()
    FirstRequest.cpu_at_arrival.clear()
    FirstRequest.spawned.clear()
    quiet = subprocess.DEVNULL
    started = time.perf_counter()
    with subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet) as process:
        FirstRequest.client_pid = process.pid
        FirstRequest.spawned.set()
        process.wait(timeout=60)
    if not FirstRequest.arrivals:
        raise RuntimeError(f"{command} sent no request")
    return (FirstRequest.arrivals[0] - started) * 1000, FirstRequest.cpu_at_arrival[0]


def to_exit(arguments: list[str]) -> tuple[float, float]:
    """Wall ms from exec to exit of `python ARGS`, and the CPU ms the OS accounted to it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, *arguments], check=True)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu * 1000


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": round(statistics.median(samples), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
    }


def client_of(revision: str, folder: Path) -> Path:
    """The client's sources as of `revision`, compiled, under `folder`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "client/src"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    source = folder / "client" / "src"
    compileall.compile_dir(source, quiet=1)
    return source


def commands_for(folder: Path) -> dict[str, list[str]]:
    file = folder / "one.bin"
    file.write_bytes(os.urandom(1024))
    intake = str(BIN / "intake")
    state = ["--state-file", str(folder / "state.json")]  # empty: the first call initiates
    return {
        "status": [intake, "status", "00000000-0000-4000-8000-000000000000"],
        "upload_quiet": [intake, "upload", str(file), "--quiet", *state],
        "upload_with_bars": [intake, "upload", str(file), *state],
    }


def measure(runs: int, before: str | None) -> dict[str, Any]:
    compileall.compile_dir(ROOT / "client" / "src", quiet=1)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FirstRequest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "INTAKE_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "INTAKE_TOKEN": tokens.mint("bench-cli", ["bench"]),
    }
    envs = {"": env}
    samples: dict[str, list[float]] = {}
    load_at_start = Path("/proc/loadavg").read_text().split()[:3]
    with tempfile.TemporaryDirectory() as folder:
        commands = commands_for(Path(folder))
        if before is not None:
            old = client_of(before, Path(folder) / "before")
            envs["before_"] = {**env, "PYTHONPATH": str(old)}
        for command in commands.values():  # warm the page cache
            for environment in envs.values():
                first_request(command, environment)
        # Run by run, every command in turn: a change of load moves all of them alike.
        for _ in range(runs):
            for name, arguments in FLOORS.items():
                wall, cpu = to_exit(arguments)
                samples.setdefault(name, []).append(wall)
                samples.setdefault(f"{name}_cpu", []).append(cpu)
            for name, command in commands.items():
                for prefix, environment in envs.items():
                    wall, cpu = first_request(command, environment)
                    samples.setdefault(f"{prefix}{name}", []).append(wall)
                    samples.setdefault(f"{prefix}{name}_cpu", []).append(cpu)
    server.shutdown()
    figures: dict[str, Any] = {name: summary(values) for name, values in samples.items()}
    figures["load_average_at_start"] = load_at_start
    figures["load_average_during_run"] = Path("/proc/loadavg").read_text().split()[:3]
    figures["target_ms"] = 150
    # Run under `nice -n -10` to see through other tenants' load: children inherit it.
    figures["niceness"] = os.nice(0)
    figures["start_up"] = start_up_facts()
    figures["client"] = git_head()
    figures["before"] = before
    return figures


def start_up_facts() -> dict[str, Any]:
    """What runs before the client's own code: the entry script and the .pth files."""
    script = (BIN / "intake").read_text().splitlines()
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    pth = sorted((site / "site-packages").glob("*.pth"))
    return {
        "entry_script_imports": [line for line in script if line.startswith(("import", "from"))],
        "pth_files": len(pth),
        "pth_files_with_import_lines": [
            p.name
            for p in pth
            if any(line.startswith("import") for line in p.read_text().split("\n"))
        ],
        "client_bytecode": "compiled by this benchmark (compileall)",
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
    }


def git_head() -> str:
    answer = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    return answer.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--before", default=None, help="git revision of the client to compare")
    parser.add_argument("--name", default="cli_first_request", help="result file name")
    args = parser.parse_args()
    figures = measure(args.runs, args.before)
    print(write(args.name, figures))
    for name, values in figures.items():
        print(name, values)


if __name__ == "__main__":
    main()
