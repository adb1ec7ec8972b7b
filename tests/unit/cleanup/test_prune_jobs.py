"""Cleanup's prune jobs on in-memory ports: pruning drained in batches everywhere, other services' failures survived, reply topics swept after their grace period."""

from datetime import timedelta

from intake_contracts.errors import DomainError, ErrorCode
from tests.support.cleanup import (
    HOUR,
    LONG_AGO,
    World,
    report,
)
from tests.support.contracts.common import NOW

OLD = LONG_AGO - timedelta(days=60)  # past INTAKE_PRUNE_AFTER_S


async def test_prune_drains_every_service_and_table_in_batches(world: World) -> None:
    world.outbound.backlog = {"initiation": [OLD] * 5, "completion": [OLD, NOW]}
    world.prune_repo.aged["index"] = [OLD] * 3
    world.prune_repo.aged["job_runs"] = [NOW - HOUR]  # young: stays
    run = report()
    await world.prune_jobs().prune_sessions(run, NOW, None)
    assert world.outbound.backlog == {"initiation": [], "completion": [NOW]}  # NOW is young
    assert (run.stats["initiation_removed"], run.stats["completion_removed"]) == (5, 1)
    assert run.stats["index_removed"] == 3
    assert world.prune_repo.aged["job_runs"] == [NOW - HOUR]
    assert [n for table, n in world.prune_repo.batches if table == "index"] == [2, 1]


async def test_a_service_that_fails_to_prune_is_logged_and_the_rest_is_pruned(world: World) -> None:
    world.outbound.backlog = {"initiation": [OLD], "completion": [OLD]}
    world.outbound.broken["prune:initiation"] = DomainError(ErrorCode.VALIDATION_FAILED, "no")
    run = report()
    await world.prune_jobs().prune_sessions(run, NOW, None)
    assert run.stats["errors"] == 1
    assert "prune initiation" in run.errors[0]
    assert world.outbound.backlog == {"initiation": [OLD], "completion": []}


async def test_reply_topics_go_once_unclaimed_for_the_grace_period(world: World) -> None:
    prefix = world.topics.prefix()
    live, dead, refused = f"{prefix}live", f"{prefix}dead", f"{prefix}refused"
    world.topics.topics = {live: True, dead: False, refused: False, "someone.else": False}
    world.topics.refuse.add(refused)
    jobs = world.prune_jobs()
    first = report()
    await jobs.sweep_reply_topics(first, NOW)
    assert world.topics.deleted == []  # first seen unclaimed now: within its grace
    assert world.prune_repo.unclaimed == {dead: NOW, refused: NOW}
    later = report()
    await jobs.sweep_reply_topics(later, NOW + timedelta(minutes=11))
    assert world.topics.deleted == [dead]
    assert (later.stats["deleted"], later.stats["errors"]) == (1, 1)
    assert live in world.topics.topics
    assert "someone.else" in world.topics.topics  # another namespace's: never ours
    assert dead not in world.prune_repo.unclaimed
