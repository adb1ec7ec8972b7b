"""The fault driver: on a seeded random schedule, SIGKILL and restart each service process,
stop Kafka and S3 for a while, restart Postgres. Only this run's processes and this state
dir's stack are touched."""

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

STACK = Path(__file__).resolve().parents[2] / "deploy" / "stack.sh"


class Fault(StrEnum):
    KILL_GATEWAY = "kill-gateway"
    KILL_INITIATION = "kill-initiation"
    KILL_COMPLETION = "kill-completion"
    KILL_CLEANUP = "kill-cleanup"
    KILL_AUDIT = "kill-audit"
    STOP_KAFKA = "stop-kafka"
    RESTART_POSTGRES = "restart-postgres"
    STOP_S3 = "stop-s3"


KILLED_SERVICE = {
    Fault.KILL_GATEWAY: "gateway",
    Fault.KILL_INITIATION: "initiation",
    Fault.KILL_COMPLETION: "completion",
    Fault.KILL_CLEANUP: "cleanup",
    Fault.KILL_AUDIT: "audit",
}


def plan_round(rng: random.Random, max_gap_s: float) -> list[tuple[float, Fault]]:
    """Every fault kind once, in a random order, each after a random pause."""
    kinds = list(Fault)
    rng.shuffle(kinds)
    return [(rng.uniform(0.5, max_gap_s), kind) for kind in kinds]


class Restartable(Protocol):
    def kill(self) -> None: ...
    def start(self) -> None: ...
    def wait_ready(self, deadline_s: float = 60.0) -> None: ...


@dataclass
class FaultDriver:
    processes: Mapping[str, Restartable]
    env: Mapping[str, str]
    seed: int
    # Kafka and S3 stay down this long.
    outage_s: float = 10.0
    max_gap_s: float = 6.0
    injected: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)

    async def run(self, workload_done: asyncio.Event, min_rounds: int = 1) -> None:
        """Rounds of every fault kind until the workload is done and `min_rounds` ran."""
        rng = random.Random(self.seed)
        rounds = 0
        while rounds < min_rounds or not workload_done.is_set():
            for gap_s, fault in plan_round(rng, self.max_gap_s):
                await asyncio.sleep(gap_s)
                if rounds >= min_rounds and workload_done.is_set():
                    return
                started = time.monotonic()
                await self.inject(fault)
                self.injected[fault] += 1
                self.log.append(f"{fault} took {time.monotonic() - started:.1f}s")
            rounds += 1

    async def inject(self, fault: Fault) -> None:
        service = KILLED_SERVICE.get(fault)
        if service is not None:
            await asyncio.to_thread(self._kill_and_restart, service)
        elif fault == Fault.STOP_KAFKA:
            await self._outage("stop-kafka", "start-kafka")
        elif fault == Fault.STOP_S3:
            await self._outage("stop-s3", "start-s3")
        else:
            await self._stack("restart-postgres")

    def _kill_and_restart(self, service: str) -> None:
        process = self.processes[service]
        process.kill()
        process.start()
        process.wait_ready(180)

    async def _outage(self, stop: str, start: str) -> None:
        await self._stack(stop)
        await asyncio.sleep(self.outage_s)
        await self._stack(start)

    async def _stack(self, command: str) -> None:
        process = await asyncio.create_subprocess_exec(
            "bash",
            str(STACK),
            command,
            env=dict(self.env),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, errors = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"stack.sh {command} failed: {errors.decode()[-500:]}")
