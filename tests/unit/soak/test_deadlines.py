"""The soak's waits end: a missed deadline fails naming what was awaited, instead of hanging
(the short soak once waited ten minutes after its workload had finished)."""

import asyncio

import pytest

from tests.soak.deadlines import DeadlineError, deadline
from tests.soak.driver import Workload
from tests.soak.faults import Supervisor


async def wait_forever(*names: tuple[str, float]) -> None:
    """Wait for what never comes, under the deadlines named (outermost first)."""
    if not names:
        await asyncio.Event().wait()
        return
    (what, seconds), *inner = names
    async with deadline(what, seconds):
        await wait_forever(*inner)


async def test_a_missed_deadline_names_what_was_awaited() -> None:
    with pytest.raises(DeadlineError, match=r"^stack.sh start-kafka: not done within 0s"):
        await wait_forever(("stack.sh start-kafka", 0.05))


async def test_an_inner_deadline_keeps_its_own_name() -> None:
    outer, inner = ("workload and fault driver", 5.0), ("scenario direct of soak-1", 0.05)
    with pytest.raises(DeadlineError, match=r"^scenario direct of soak-1: not done"):
        await wait_forever(outer, inner)


async def raise_own_timeout() -> None:
    async with deadline("final cleanup pass", 5):
        raise TimeoutError("the block's own")


async def test_a_timeout_raised_inside_is_not_taken_for_the_deadline() -> None:
    with pytest.raises(TimeoutError) as raised:
        await raise_own_timeout()
    assert not isinstance(raised.value, DeadlineError)


async def test_a_block_within_its_deadline_is_left_alone() -> None:
    async with deadline("settle", 5):
        await asyncio.sleep(0)


class NeverReady:
    """A process that runs but never answers /readyz."""

    def kill(self) -> None: ...
    def start(self) -> None: ...
    def running(self) -> bool:
        return True

    def wait_ready(self, deadline_s: float = 60.0) -> None:
        raise RuntimeError(f"gateway not ready after {deadline_s}s")


async def test_a_service_that_never_gets_ready_fails_naming_it() -> None:
    supervisor = Supervisor({"gateway": NeverReady()})
    with pytest.raises(DeadlineError, match=r"^gateway not ready within 0s"):
        await supervisor.ready("gateway", deadline_s=0.01)


def test_the_soak_knows_its_tenants_before_it_starts() -> None:
    workload = Workload(uploads=10, concurrency=3, seed=1, run_id="abc123")
    assert workload.tenants == ["soak-abc123-0", "soak-abc123-1", "soak-abc123-2"]
