"""Start, watch and stop Intake's service processes: used by `make up` and by the e2e tests.

    python deploy/launcher.py up|down|status

Each service runs as its own process with its own health port; pid files and logs live in
the state folder, so `down` ends exactly what `up` started. `INTAKE_REPLICAS`
("initiation=3,completion=2") runs more processes of a consumer service, each a member of the
same consumer group; replica r listens on the service's health port + 10 * (r - 1).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack_base
import stack_principals
from processes import command_line, read_pid, terminate

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("INTAKE_STATE_DIR", ROOT / ".state"))
BIN = ROOT / ".venv" / "bin"

# Health/metrics port of each service, the gateway's included (its API port serves /healthz
# only: /readyz and /metrics are operators' answers, kept off the public port).
DEFAULT_PORTS = {
    "initiation": 8101,
    "completion": 8102,
    "cleanup": 8103,
    "audit": 8104,
    "gateway": 8105,
}
SERVICES = ("initiation", "completion", "cleanup", "audit", "gateway")
# A consumer group spreads at most one member per partition; the gateway is scaled behind a
# load balancer instead, which the local stack does not have.
SCALABLE = frozenset(DEFAULT_PORTS) - {"gateway"}
MAX_REPLICAS = 12
REPLICA_PORT_STEP = 10


@dataclass
class ServiceProcess:
    service: str
    env: dict[str, str]
    log_dir: Path
    health_port: int
    replica: int = 1
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    api_port: int | None = None  # the gateway's HTTP API

    @property
    def name(self) -> str:
        return self.service if self.replica == 1 else f"{self.service}-{self.replica}"

    @property
    def instance_path(self) -> Path:
        return self.log_dir / f"{self.name}.instance"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.log_dir / f"{self.name}.pid"

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # Named after the replica, so its Kafka client id says which process holds a partition.
        instance_id = f"r{self.replica}-{uuid.uuid4().hex[:8]}"
        self.instance_path.write_text(instance_id)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / f"intake-{self.service}")],
                env={**self.env, "INTAKE_INSTANCE_ID": instance_id},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_path.write_text(str(self.process.pid))

    def running(self) -> bool:
        pid = read_pid(self.pid_path)
        return pid is not None and _runs_service(pid, self.service)

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
            # A process killed mid-answer can leave a truncated response (IncompleteRead).
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {deadline_s}s; log: {self.log_path}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> None:
        pid = self.process.pid if self.process else read_pid(self.pid_path)
        if pid is None or (self.process is None and not _runs_service(pid, self.service)):
            self.pid_path.unlink(missing_ok=True)  # stale: that pid is not ours any more
            return
        terminate(pid, timeout_s, process=self.process, sig=sig)
        self.pid_path.unlink(missing_ok=True)
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


@contextlib.contextmanager
def running(processes: Mapping[str, ServiceProcess], ready_s: float = 60.0) -> Iterator[None]:
    """Every process started, then waited for (they boot side by side), and stopped in
    reverse order after the block, whatever happened in it."""
    try:
        for process in processes.values():
            process.start()
        for process in processes.values():
            process.wait_ready(ready_s)
        yield
    finally:
        for process in reversed(list(processes.values())):
            process.stop()


def _runs_service(pid: int, name: str) -> bool:
    return f"intake-{name}".encode() in command_line(pid)


def parse_replicas(spec: str) -> dict[str, int]:
    """ "initiation=3,completion=2" → {"initiation": 3, "completion": 2}; others run once."""
    counts: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        service, _, count = item.partition("=")
        if service not in SCALABLE:
            raise ValueError(f"INTAKE_REPLICAS: {service!r} is not one of {sorted(SCALABLE)}")
        if not count.isdigit() or not 1 <= int(count) <= MAX_REPLICAS:
            raise ValueError(f"INTAKE_REPLICAS: {item!r} needs a count from 1 to {MAX_REPLICAS}")
        counts[service] = int(count)
    return counts


def build(
    env: dict[str, str],
    log_dir: Path,
    gateway_port: int,
    ports: dict[str, int] | None = None,
    *,
    provision_kafka: bool = True,
) -> dict[str, ServiceProcess]:
    """Every process to run, by name ("initiation", "initiation-2", …). `ports` may name a
    service (its first replica) or one replica.

    With the native stack's admin environment (`stack.sh env`), the topics and ACLs of env's
    namespace are provisioned first, as the admin, and each process gets its own principal's
    credentials instead of the admin's (`provision_kafka=False`: only the processes, to stop or
    list them)."""
    if provision_kafka and _as_stack_admin(env):
        provision(env)
    ports = {**DEFAULT_PORTS, **(ports or {})}
    replicas = parse_replicas(env.get("INTAKE_REPLICAS", ""))
    processes = {}
    only = os.environ.get("INTAKE_ONLY_SERVICES")  # a subset, while developing one service
    for service in SERVICES if not only else [s for s in SERVICES if s in only.split(",")]:
        for replica in range(1, replicas.get(service, 1) + 1):
            process = _process(
                env, log_dir, service, replica, gateway_port=gateway_port, ports=ports
            )
            processes[process.name] = process
    return processes


def _process(
    env: dict[str, str],
    log_dir: Path,
    service: str,
    replica: int,
    *,
    gateway_port: int,
    ports: dict[str, int],
) -> ServiceProcess:
    name = service if replica == 1 else f"{service}-{replica}"
    port = ports.get(name, ports[service] + REPLICA_PORT_STEP * (replica - 1))
    service_env = {**env, "INTAKE_METRICS_PORT": str(port)}
    if _as_stack_admin(env):
        for variable in stack_principals.PER_PRINCIPAL_VARIABLES:
            service_env.pop(variable, None)
        config = stack_base.Config.from_env(env)
        service_env |= stack_principals.principal_credentials(config, service)
    if service != "gateway":
        return ServiceProcess(service, service_env, log_dir, port, replica)
    service_env["INTAKE_GATEWAY_PORT"] = str(gateway_port)
    return ServiceProcess(service, service_env, log_dir, port, replica, api_port=gateway_port)


def health_ports(env: Mapping[str, str]) -> dict[str, int]:
    """INTAKE_METRICS_BASE_PORT moves every service's health port, in DEFAULT_PORTS' order, so
    a second system (another checkout's `make up`) runs beside the first."""
    base = int(env.get("INTAKE_METRICS_BASE_PORT", DEFAULT_PORTS["initiation"]))
    return {service: base + offset for offset, service in enumerate(DEFAULT_PORTS)}


def _as_stack_admin(env: dict[str, str]) -> bool:
    return env.get("KAFKA_SASL_USERNAME") == stack_base.ADMIN


def provision(env: dict[str, str]) -> None:
    """`intake-ops provision-topics` as env's principal: the shared topics of env's namespace
    and, on a Kafka with SASL, every principal's ACLs on them."""
    done = subprocess.run(
        [str(BIN / "intake-ops"), "provision-topics"], env=env, capture_output=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"intake-ops provision-topics failed: {done.stderr.decode()[-2000:]}")


def _stack_env(command: str) -> dict[str, str]:
    try:
        return {**os.environ, **stack_principals.stack_env()}
    except stack_base.StackError:
        if command == "up":
            raise
        return dict(os.environ)  # `down` or `status` before any `up`: no credentials yet


def _replicas_left_running(log_dir: Path, gateway_port: int) -> dict[str, ServiceProcess]:
    """Replicas an earlier `up` started with a larger INTAKE_REPLICAS: `down` ends them too."""
    found: dict[str, ServiceProcess] = {}
    for pid_file in log_dir.glob("*-*.pid"):
        service, _, replica = pid_file.stem.rpartition("-")
        if service in SCALABLE and replica.isdigit():
            found.update(build({"INTAKE_REPLICAS": f"{service}={replica}"}, log_dir, gateway_port))
    return {name: process for name, process in found.items() if process.pid_path.exists()}


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    gateway_port = int(os.environ.get("INTAKE_GATEWAY_PORT", "8000"))
    processes = build(
        _stack_env(command),
        STATE / "services",
        gateway_port,
        health_ports(os.environ),
        provision_kafka=command == "up",
    )
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
        processes = {**processes, **_replicas_left_running(STATE / "services", gateway_port)}
        for process in reversed(list(processes.values())):
            process.stop()
    else:
        for name, process in processes.items():
            pid = read_pid(process.pid_path)
            instance = process.instance_path.read_text() if process.instance_path.exists() else ""
            running = f"running pid {pid}, instance {instance}" if process.running() else "stopped"
            print(f"{name}: {running}")
        print("consumer groups (members by instance):")
        try:
            ops = {**os.environ, **stack_principals.stack_env(principal="ops")}
        except stack_base.StackError as error:
            print(f"consumer groups: unknown ({error})")
            return
        subprocess.run([str(BIN / "intake-ops"), "groups"], env=ops, check=False)


if __name__ == "__main__":
    main()
