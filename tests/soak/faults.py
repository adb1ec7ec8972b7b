"""The fault driver: on a seeded random schedule, SIGKILL and restart each service process,
stop Kafka and S3 for a while, restart Postgres. Only this run's processes and this state
dir's stack are touched."""

import asyncio
import contextlib
import logging
import random
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from tests.soak.deadlines import DeadlineError, deadline

log = logging.getLogger(__name__)

STACK = Path(__file__).resolve().parents[2] / "deploy" / "stack.sh"
START_ATTEMPTS = 3
# One stack.sh command: a start waits for readiness (INTAKE_READY_TIMEOUT, 180 s by default)
# and takes the stack's lock first; above both, it is stuck.
STACK_COMMAND_S = 300.0
# A SIGKILL and the reaping of the process group (launcher's terminate waits at most ~20 s).
KILL_S = 60.0
# A killed service answers /readyz again (several starts if Kafka is down meanwhile).
READY_S = 300.0


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


def plan_round(rng: random.Random, window_s: float) -> list[tuple[float, Fault]]:
    """Every fault kind once, each at a random offset into the round's window: faults overlap
    (a service killed while Kafka is down), as they do when a machine has a bad day."""
    return sorted((rng.uniform(0.0, window_s), kind) for kind in Fault)


class Restartable(Protocol):
    def kill(self) -> None: ...
    def start(self) -> None: ...
    def running(self) -> bool: ...
    def wait_ready(self, deadline_s: float = 60.0) -> None: ...


@dataclass
class Supervisor:
    """An orchestrator's restart loop: whatever process is not running is started again, a
    service that exited on its own (say, started while Kafka was down) included."""

    processes: Mapping[str, Restartable]
    # Restarts of a process no fault had killed: an exit the service chose (a failed start).
    unplanned: Counter[str] = field(default_factory=Counter)
    restarts: Counter[str] = field(default_factory=Counter)
    _killing: set[str] = field(default_factory=set)
    _killed: set[str] = field(default_factory=set)

    async def run(self, stop: asyncio.Event, interval_s: float = 0.5) -> None:
        while not stop.is_set():
            for name, process in self.processes.items():
                if name in self._killing or process.running():
                    continue
                if name in self._killed:
                    self._killed.discard(name)
                else:
                    self.unplanned[name] += 1
                self.restarts[name] += 1
                process.start()
            await asyncio.sleep(interval_s)

    async def kill(self, name: str) -> None:
        """SIGKILL; the loop above starts it again."""
        self._killing.add(name)
        try:
            async with deadline(f"SIGKILL of {name} and its exit", KILL_S):
                await asyncio.to_thread(self.processes[name].kill)
            self._killed.add(name)
        finally:
            self._killing.discard(name)

    async def ready(self, name: str, deadline_s: float = READY_S) -> None:
        """Until the process answers /readyz (it may need several starts)."""
        starts = self.restarts[name]
        stop_at = time.monotonic() + deadline_s
        while True:
            try:
                await asyncio.to_thread(self.processes[name].wait_ready, 5.0)
            except RuntimeError as error:
                if time.monotonic() > stop_at:
                    started = self.restarts[name] - starts
                    raise DeadlineError(
                        f"{name} not ready within {deadline_s:.0f}s ({started} starts): {error}"
                    ) from error
                await asyncio.sleep(0.5)
            else:
                return

    async def all_ready(self, deadline_s: float = READY_S) -> None:
        async with asyncio.TaskGroup() as group:
            for name in self.processes:
                group.create_task(self.ready(name, deadline_s))


@dataclass
class FaultDriver:
    supervisor: Supervisor
    env: Mapping[str, str]
    seed: int
    # Kafka and S3 stay down this long.
    outage_s: float = 10.0
    window_s: float = 30.0
    # Quiet time between rounds, so that the workload also runs on a whole system.
    rest_s: float = 30.0
    injected: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)

    async def run(
        self, workload_done: asyncio.Event, min_rounds: int = 1, max_rounds: int | None = None
    ) -> None:
        """Rounds of every fault kind until the workload is done and `min_rounds` ran (and
        never more than `max_rounds`)."""
        rng = random.Random(self.seed)
        rounds = 0
        while (rounds < min_rounds or not workload_done.is_set()) and rounds != max_rounds:
            if rounds:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(workload_done.wait(), self.rest_s)
                if rounds >= min_rounds and workload_done.is_set():
                    return
            plan = plan_round(rng, self.window_s)
            # A backstop: each fault has a deadline of its own that names it.
            stack_s = (1 + START_ATTEMPTS) * STACK_COMMAND_S  # a stop, then every start attempt
            round_s = self.window_s + self.outage_s + stack_s + KILL_S + READY_S
            async with (
                deadline(f"fault round {rounds + 1}", round_s),
                asyncio.TaskGroup() as faults,
            ):
                for offset_s, fault in plan:
                    faults.create_task(self._at(offset_s, fault))
            rounds += 1

    async def _at(self, offset_s: float, fault: Fault) -> None:
        await asyncio.sleep(offset_s)
        started = time.monotonic()
        await self.inject(fault)
        self.injected[fault.value] += 1
        self.log.append(f"{fault} at +{offset_s:.0f}s took {time.monotonic() - started:.1f}s")

    async def inject(self, fault: Fault) -> None:
        service = KILLED_SERVICE.get(fault)
        if service is not None:
            await self.supervisor.kill(service)
            await self.supervisor.ready(service)
        elif fault == Fault.STOP_KAFKA:
            await self._outage("stop-kafka", "start-kafka")
        elif fault == Fault.STOP_S3:
            await self._outage("stop-s3", "start-s3")
        else:
            await self._stack("restart-postgres")

    async def _outage(self, stop: str, start: str) -> None:
        await self._stack(stop)
        await asyncio.sleep(self.outage_s)
        await self._stack(start)

    async def _stack(self, command: str) -> None:
        """stack.sh `command`; a start is tried again (it is idempotent): on a machine this
        loaded a JVM has been seen to miss its first readiness deadline."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                await self._stack_once(command)
            except RuntimeError as error:
                if not command.startswith("start") or attempt == START_ATTEMPTS:
                    raise
                self.log.append(f"{command} attempt {attempt} failed: {error}")
            else:
                return

    async def _stack_once(self, command: str) -> None:
        # Output to a file, not a pipe: no server it starts can hold a pipe of ours open.
        with tempfile.TemporaryFile() as output:
            process = await asyncio.create_subprocess_exec(
                "bash",
                str(STACK),
                command,
                env=dict(self.env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=output,
            )
            try:
                async with deadline(f"stack.sh {command} (pid {process.pid})", STACK_COMMAND_S):
                    await process.wait()
            except DeadlineError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
                raise
            output.seek(0)
            errors = output.read()
        if process.returncode != 0:
            raise RuntimeError(
                f"stack.sh {command} exited {process.returncode}: {errors.decode()[-1500:]}"
            )
