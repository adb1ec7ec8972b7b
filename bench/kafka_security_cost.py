"""CPU per initiate with Kafka's SASL/SCRAM over TLS against the same stack in plaintext,
side by side in one sitting (issue 22's cost target: at most 15 % more).

Every process of the system is measured, as bench/cpu_per_op.py does (gateway, services,
Kafka, Postgres, SeaweedFS, this load generator), for initiates at concurrency 16 and
sequentially. The two sides alternate round by round on one running stack, each with the
services started afresh in a namespace of their own:

- `sasl_ssl`: the stack as it always runs, each service as its own principal;
- `plaintext`: the same broker's extra unauthenticated listener (INTAKE_KAFKA_PLAINTEXT_PORT,
  whose anonymous user is a super user: bench only), services in local mode without SASL.

The broker needs that listener: `--restart-kafka` restarts the stack's Kafka with it for the
run and without it afterwards (every user of the stack sees a short broker outage).

    .venv/bin/python -m bench.kafka_security_cost --restart-kafka              # full size
    .venv/bin/python -m bench.kafka_security_cost --restart-kafka --rounds 1 \\
        --requests 40 --sequential 20 --name kafka_security_cost_tiny          # a check
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support import stack

from bench.common import write
from bench.cpu_per_op import Meter, measure, measure_idle, running_services

SIDES = ("sasl_ssl", "plaintext")
PHASES = ("initiate_c16", "initiate_sequential")
TARGET_RATIO = 1.15
SECURITY = (
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CAFILE",
)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def restart_kafka(plaintext_port: int | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "INTAKE_KAFKA_PLAINTEXT_PORT"}
    if plaintext_port is not None:
        env["INTAKE_KAFKA_PLAINTEXT_PORT"] = str(plaintext_port)
    for command in ("stop-kafka", "start-kafka"):
        subprocess.run(["bash", str(stack.STACK), command], env=env, check=True)


@contextmanager
def plaintext_listener(port: int, restart: bool) -> Iterator[None]:
    if listening(port):
        yield
        return
    if not restart:
        raise SystemExit(
            f"nothing listens on the plaintext port {port}: run with --restart-kafka, or restart"
            f" Kafka with INTAKE_KAFKA_PLAINTEXT_PORT={port}"
            " (deploy/stack.sh stop-kafka start-kafka)"
        )
    restart_kafka(port)
    try:
        yield
    finally:
        restart_kafka(None)


def side_env(side: str, stack_env: Mapping[str, str], plaintext_port: int) -> dict[str, str]:
    env = {
        **os.environ,
        **stack_env,
        "INTAKE_ENV": "local",
        "INTAKE_NAMESPACE": f"bench-{side.replace('_', '')}-{uuid.uuid4().hex[:6]}",
        "INTAKE_LOG_LEVEL": os.environ.get("INTAKE_LOG_LEVEL", "INFO"),
        "INTAKE_CLEANUP_SCHEDULE": "off",
        "INTAKE_REQUEST_TIMEOUT_S": "60",
    }
    if side == "plaintext":
        for variable in SECURITY:
            env.pop(variable, None)
        env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{plaintext_port}"
        env["KAFKA_SECURITY_PROTOCOL"] = "PLAINTEXT"
    return env


def one_side(
    side: str, env: dict[str, str], state: Path, args: argparse.Namespace
) -> dict[str, Any]:
    with running_services(stack.ROOT, env) as processes:
        meter = Meter(state, {name: p.process.pid for name, p in processes.items()})
        gateway = f"http://127.0.0.1:{processes['gateway'].api_port}"
        time.sleep(5)  # start-up work out of the idle figure
        idle = measure_idle(meter)
        counts = argparse.Namespace(
            requests=args.requests, sequential=args.sequential, completes=0, phases="initiate"
        )
        figures = asyncio.run(measure(gateway, meter, env["DATABASE_URL"], counts))
    return {"side": side, "idle_cpu_ms_per_s": idle, **{p: figures[p] for p in PHASES}}


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per phase: each side's median total CPU per initiate, and SASL_SSL over plaintext."""
    found: dict[str, Any] = {}
    for phase in PHASES:
        medians = {
            side: statistics.median(
                r[phase]["cpu_ms_per_op_net_of_idle"]["total"] for r in rounds if r["side"] == side
            )
            for side in SIDES
        }
        kafka = {
            side: statistics.median(
                r[phase]["cpu_ms_per_op_net_of_idle"]["kafka"] for r in rounds if r["side"] == side
            )
            for side in SIDES
        }
        ratio = medians["sasl_ssl"] / medians["plaintext"] if medians["plaintext"] else None
        found[phase] = {
            "cpu_ms_per_initiate_total": medians,
            "cpu_ms_per_initiate_kafka": kafka,
            "ratio_sasl_ssl_over_plaintext": round(ratio, 3) if ratio else None,
            "target_ratio": TARGET_RATIO,
            "met": ratio is not None and ratio <= TARGET_RATIO,
        }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each runs both sides")
    parser.add_argument("--requests", type=int, default=600, help="initiates at concurrency 16")
    parser.add_argument("--sequential", type=int, default=200, help="sequential initiates")
    parser.add_argument(
        "--plaintext-port",
        type=int,
        default=int(os.environ.get("INTAKE_KAFKA_PLAINTEXT_PORT") or 0) or None,
    )
    parser.add_argument("--restart-kafka", action="store_true", help="add the plaintext listener")
    parser.add_argument("--name", default="kafka_security_cost", help="result file name")
    args = parser.parse_args()
    stack_env = stack.native_env()
    kafka_port = int(stack_env["KAFKA_BOOTSTRAP_SERVERS"].rsplit(":", 1)[1])
    plaintext_port = args.plaintext_port or kafka_port + 5
    state = Path(os.environ.get("INTAKE_STATE_DIR") or stack.ROOT / ".state").resolve()
    rounds: list[dict[str, Any]] = []
    with plaintext_listener(plaintext_port, args.restart_kafka):
        for number in range(args.rounds):
            # Alternate which side goes first, so neither always meets a warmer machine.
            order = SIDES if number % 2 == 0 else tuple(reversed(SIDES))
            for side in order:
                figures = one_side(side, side_env(side, stack_env, plaintext_port), state, args)
                rounds.append({"round": number + 1, **figures})
                total = figures["initiate_c16"]["cpu_ms_per_op_net_of_idle"]["total"]
                print(f"round {number + 1} {side}: {total} ms CPU per initiate at c16", flush=True)
    figures = {
        "summary": summary(rounds),
        "rounds": rounds,
        "sizes": {"rounds": args.rounds, "requests": args.requests, "sequential": args.sequential},
        "load_average": os.getloadavg(),
    }
    print(write(args.name, figures))
    for phase, found in figures["summary"].items():
        print(phase, found)


if __name__ == "__main__":
    main()
