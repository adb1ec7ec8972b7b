"""Start, watch and stop Intake's service processes: used by `make up` and by the e2e tests.

    python deploy/launcher.py up|down|status

Each service runs as its own process with its own health port; pid files and logs live in
the state folder, so `down` ends exactly what `up` started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("INTAKE_STATE_DIR", ROOT / ".state"))
BIN = ROOT / ".venv" / "bin"

# Health/metrics port of each service; the gateway serves its own on the API port.
DEFAULT_PORTS = {"initiation": 8101, "completion": 8102, "cleanup": 8103, "audit": 8104}
SERVICES = ("initiation", "completion", "cleanup", "audit", "gateway")


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    log_dir: Path
    health_port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.log_dir / f"{self.name}.pid"

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / f"intake-{self.name}")],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_path.write_text(str(self.process.pid))

    def running(self) -> bool:
        pid = _read_pid(self.pid_path)
        return pid is not None and _runs_service(pid, self.name)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.health_port}{path}"

    def wait_ready(self, deadline_s: float = 60.0) -> None:
        stop_at = time.monotonic() + deadline_s
        while time.monotonic() < stop_at:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.process.returncode}); log: {self.log_path}"
                )
            try:
                with urllib.request.urlopen(self.url("/readyz"), timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {deadline_s}s; log: {self.log_path}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> None:
        pid = self.process.pid if self.process else _read_pid(self.pid_path)
        if pid is None or (self.process is None and not _runs_service(pid, self.name)):
            self.pid_path.unlink(missing_ok=True)  # stale: that pid is not ours any more
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        _wait_gone(pid, self.process, timeout_s)
        self.pid_path.unlink(missing_ok=True)
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _runs_service(pid: int, name: str) -> bool:
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return f"intake-{name}".encode() in command_line


def _wait_gone(pid: int, process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    stop_at = time.monotonic() + timeout_s
    while time.monotonic() < stop_at:
        if process is not None:
            if process.poll() is not None:
                return
        else:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if process is not None:
        process.wait(5)


def build(
    env: dict[str, str], log_dir: Path, gateway_port: int, ports: dict[str, int] | None = None
) -> dict[str, ServiceProcess]:
    ports = {**DEFAULT_PORTS, **(ports or {})}
    processes = {}
    only = os.environ.get("INTAKE_ONLY_SERVICES")  # a subset, while developing one service
    for name in SERVICES if not only else [s for s in SERVICES if s in only.split(",")]:
        port = gateway_port if name == "gateway" else ports[name]
        service_env = {**env, "INTAKE_METRICS_PORT": str(port)}
        if name == "gateway":
            service_env["INTAKE_GATEWAY_PORT"] = str(gateway_port)
        processes[name] = ServiceProcess(name, service_env, log_dir, port)
    return processes


def _stack_env() -> dict[str, str]:
    output = subprocess.run(
        ["bash", str(ROOT / "deploy" / "stack.sh"), "env"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    env = dict(os.environ)
    for line in output.splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value.strip("'\"")
    return env


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    gateway_port = int(os.environ.get("INTAKE_GATEWAY_PORT", "8000"))
    processes = build(_stack_env(), STATE / "services", gateway_port)
    if command == "up":
        for process in processes.values():
            if process.running():  # `up` twice leaves the running ones alone
                continue
            process.start()
        for process in processes.values():
            process.wait_ready()
        host = os.environ.get("INTAKE_GATEWAY_HOST", "127.0.0.1")
        print(f"Intake is up: gateway http://{host}:{gateway_port}")
        print(f"service logs: {STATE / 'services'}")
    elif command == "down":
        for process in reversed(list(processes.values())):
            process.stop()
    else:
        for name, process in processes.items():
            pid = _read_pid(process.pid_path)
            print(f"{name}: {'running pid ' + str(pid) if process.running() else 'stopped'}")


if __name__ == "__main__":
    main()
