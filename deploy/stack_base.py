"""What every part of the native stack shares: where things live, the configuration from the
environment, the principals' names, the error a failed part raises, the lock and the polling
helpers. Standard library only, like every deploy/stack_*.py module (see native_stack.py)."""

from __future__ import annotations

import fcntl
import os
import pwd
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import processes

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
# A 2-core machine busy with test suites has been seen taking ~90 s to boot the Kafka JVM;
# a part whose process dies fails at once.
DEFAULT_READY_TIMEOUT_S = 180


class StackError(Exception):
    """One part failed: printed as `stack.sh: <part> FAILED: <reason> (log: <path>)`."""

    def __init__(self, part: str, reason: str, log: Path | str) -> None:
        super().__init__(f"{part} FAILED: {reason} (log: {log})")


def say(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


def stop_server(name: str, pid_path: Path, marker: str, grace_s: float) -> None:
    """Stop the server whose pid `pid_path` holds when it is this stack's (its command line
    bears `marker`), SIGKILL after `grace_s`; its pid file goes either way."""
    pid = processes.owned_pid(pid_path, marker)
    if pid is not None:
        say(f"stopping {name}")
        processes.terminate(pid, grace_s)
    pid_path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Config:
    """Every value overridable from the environment, as deploy/README.md lists."""

    state: Path
    kafka_port: int
    kafka_controller_port: int
    # A second, unauthenticated listener only when asked (bench/kafka_security_cost.py).
    kafka_plaintext_port: int | None
    pg_port: int
    pg_user: str
    pg_password: str
    pg_db: str
    pg_os_user: str
    s3_port: int
    seaweed_ports: Mapping[str, int]
    aws_region: str
    aws_access_key_id: str
    aws_secret_access_key: str
    aws_bucket: str
    kafka_heap: Sequence[str]
    java: str
    ready_timeout_s: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        def port(name: str, default: int) -> int:
            return int(env.get(name) or default)

        java_home = env.get("JAVA_HOME")
        return cls(
            # Canonical: it is matched against command lines to recognise our processes.
            state=Path(env.get("INTAKE_STATE_DIR") or ROOT / ".state").resolve(),
            kafka_port=port("INTAKE_KAFKA_PORT", 19092),
            kafka_controller_port=port("INTAKE_KAFKA_CONTROLLER_PORT", 19093),
            kafka_plaintext_port=int(env["INTAKE_KAFKA_PLAINTEXT_PORT"])
            if env.get("INTAKE_KAFKA_PLAINTEXT_PORT")
            else None,
            pg_port=port("INTAKE_PG_PORT", 15432),
            pg_user=env.get("INTAKE_PG_USER") or "intake",
            pg_password=env.get("INTAKE_PG_PASSWORD") or "intake",  # LOCAL DEVELOPMENT DEFAULT
            pg_db=env.get("INTAKE_PG_DB") or "intake",
            pg_os_user=env.get("INTAKE_PG_OS_USER") or "postgres",
            s3_port=port("INTAKE_S3_PORT", 18333),
            # Away from SeaweedFS's defaults so other instances do not collide; each also opens
            # a gRPC port at +10000.
            seaweed_ports={
                "master": port("INTAKE_SEAWEED_MASTER_PORT", 19333),
                "volume": port("INTAKE_SEAWEED_VOLUME_PORT", 18080),
                "filer": port("INTAKE_SEAWEED_FILER_PORT", 18888),
                "admin": port("INTAKE_SEAWEED_ADMIN_PORT", 18646),
            },
            aws_region=env.get("AWS_REGION") or "us-east-1",
            # LOCAL DEVELOPMENT DEFAULTS, not secrets.
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or "intake-dev-access-key",
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or "intake-dev-secret-key",
            aws_bucket=env.get("AWS_BUCKET") or "intake-uploads",
            kafka_heap=(env.get("INTAKE_KAFKA_HEAP") or "-Xms256m -Xmx512m").split(),
            java=f"{java_home}/bin/java" if java_home else "java",
            ready_timeout_s=float(env.get("INTAKE_READY_TIMEOUT") or DEFAULT_READY_TIMEOUT_S),
        )

    @property
    def tools_venv(self) -> Path:
        return self.state / "tools-venv"

    @property
    def kafka_dir(self) -> Path:
        return self.state / "kafka"

    @property
    def secrets_dir(self) -> Path:
        """The CA, the broker's key and certificate, and every principal's SCRAM password:
        made by `up`, readable by this user only, never committed (.state is git-ignored)."""
        return self.state / "secrets"

    @property
    def kafka_ca(self) -> Path:
        return self.secrets_dir / "ca.crt"

    @property
    def kafka_log(self) -> Path:
        return self.kafka_dir / "logs" / "server.log"

    @property
    def pg_data(self) -> Path:
        return self.state / "postgres" / "data"

    @property
    def pg_socket_dir(self) -> Path:
        return self.state / "postgres" / "run"

    @property
    def pg_log(self) -> Path:
        return self.state / "postgres" / "log" / "postgres.log"

    @property
    def s3_dir(self) -> Path:
        return self.state / "seaweedfs"

    @property
    def s3_keys(self) -> Path:
        """Each service's S3 key, made when the stack is created (deploy/s3_iam.py)."""
        return self.s3_dir / "service-keys.json"

    @property
    def s3_log(self) -> Path:
        return self.s3_dir / "weed.log"

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    @property
    def pg_superuser(self) -> str:
        """The OS user running the server, so local peer authentication lets us in."""
        return self.pg_os_user if self.as_root else pwd.getpwuid(os.geteuid()).pw_name

    def marker(self) -> str:
        return f"{self.state}/"


# Kafka principals (SASL/SCRAM user names): one per service, the example subscriber, the
# operators' dead-letter tools, and the stack's own admin, the only super user besides the
# broker itself. The services' ACLs are intake_runtime.messaging.acls; `env` prints any one's.
SERVICE_PRINCIPALS = ("gateway", "initiation", "completion", "cleanup", "audit")
PRINCIPALS = (*SERVICE_PRINCIPALS, "subscriber", "ops")
ADMIN = "admin"


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def run_quiet(argv: Sequence[str], log: Path, cwd: str | None = None) -> bool:
    """Run to completion, output appended to `log`; whether it succeeded."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        done = subprocess.run(
            list(argv), stdout=output, stderr=subprocess.STDOUT, cwd=cwd, check=False
        )
    return done.returncode == 0


def wait_until(
    ready: Callable[[], bool],
    deadline_s: float,
    part: str,
    log: Path,
    alive: Callable[[], bool],
) -> None:
    """Poll `ready()` until true; fail at the deadline or as soon as `alive()` says no."""
    stop_at = time.monotonic() + deadline_s
    while not ready():
        if not alive():
            raise StackError(part, "process exited during startup", log)
        if time.monotonic() > stop_at:
            raise StackError(part, f"not ready within {deadline_s:.0f}s", log)
        time.sleep(0.3)


@contextmanager
def stack_lock(config: Config) -> Iterator[None]:
    """Serialise up/down/start/stop so concurrent callers never double-start anything."""
    config.state.mkdir(parents=True, exist_ok=True)
    with (config.state / ".stack.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another stack.sh run to finish")
            stop_at = time.monotonic() + 600
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > stop_at:
                        raise StackError("lock", "another run holds it", lock.name) from None
                    time.sleep(0.5)
        yield
