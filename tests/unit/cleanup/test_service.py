"""Running a cleanup job on in-memory ports: one run at a time, every run recorded with its
events, never raising, and its metrics observed with the run's own figures."""

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from intake_cleanup.domain import Job, RunStatus
from intake_cleanup.report import RunReport
from intake_cleanup.service import CleanupService, JobBody, job_bodies
from intake_contracts.commands import RunCleanupJob
from intake_contracts.envelope import Envelope
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.events import CleanupRunCompleted, EventType
from intake_runtime.messaging.dispatch import Command
from tests.support.cleanup import BUCKET, World
from tests.support.contracts.common import NOW
from tests.support.fakes.cleanup import FakeJobRuns
from tests.support.fakes.runtime import FakeClock


def service(
    world: World, runs: FakeJobRuns, jobs: dict[Job, JobBody] | None = None
) -> CleanupService:
    bodies = jobs or job_bodies(
        world.settings, world.db.index, world.store, world.outbound, world.prune_repo, world.topics
    )
    return CleanupService(runs, bodies, clock=FakeClock(NOW))


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_run_is_recorded_with_its_residue_and_summary_and_observed(world: World) -> None:
    runs = FakeJobRuns()
    orphan = "temp/uploads/4a0c1c9e-0000-4000-8000-000000000001/original"
    world.store.put(BUCKET, orphan, NOW - timedelta(days=2))  # no session names it
    before = counted(
        "intake_cleanup_job_runs_total", job=Job.ORPHANED_TEMP_OBJECTS.value, status="ok"
    )
    deleted = counted(
        "intake_cleanup_job_items_total", job=Job.ORPHANED_TEMP_OBJECTS.value, stat="deleted"
    )
    view = await service(world, runs).run(Job.ORPHANED_TEMP_OBJECTS)
    assert (view.status, view.stats["deleted"], view.errors) == (RunStatus.OK, 1, [])
    assert view.run_id is not None
    record = runs.runs[view.run_id]
    assert (record.status, record.stats) == (RunStatus.OK, view.stats)
    assert [e.event_type for e in runs.outbox.events] == [
        EventType.CLEANUP_RESIDUE_REMOVED,
        EventType.CLEANUP_RUN_COMPLETED,
    ]
    summary = runs.outbox.events[-1].event
    assert isinstance(summary, CleanupRunCompleted)
    assert (summary.run_id, summary.stats) == (view.run_id, view.stats)
    assert runs.held == set()  # the lock went with the run
    after = counted(
        "intake_cleanup_job_runs_total", job=Job.ORPHANED_TEMP_OBJECTS.value, status="ok"
    )
    assert after == before + 1
    assert (
        counted(
            "intake_cleanup_job_items_total", job=Job.ORPHANED_TEMP_OBJECTS.value, stat="deleted"
        )
        == deleted + 1
    )


async def test_a_job_another_replica_holds_is_recorded_skipped_and_not_run(world: World) -> None:
    runs = FakeJobRuns()
    runs.held_elsewhere.add(Job.RECONCILE)
    ran: list[Job] = []

    async def body(report: RunReport, now: object, tenant: str | None) -> None:
        ran.append(Job.RECONCILE)

    view = await service(world, runs, {Job.RECONCILE: body}).run(Job.RECONCILE)
    assert view.status == RunStatus.SKIPPED
    assert ran == []
    assert view.run_id is not None
    assert runs.runs[view.run_id].finished_at == NOW
    assert runs.outbox.events == []


async def test_a_job_that_stops_midway_is_recorded_failed_with_what_it_did(world: World) -> None:
    runs = FakeJobRuns()

    async def body(report: RunReport, now: object, tenant: str | None) -> None:
        report.count("failed", 2)
        assert tenant == "t1"
        raise ConnectionError("kafka gone")

    view = await service(world, runs, {Job.DETECT_ABANDONED: body}).run(Job.DETECT_ABANDONED, "t1")
    assert view.status == RunStatus.FAILED
    assert view.stats["failed"] == 2
    assert "detect-abandoned stopped" in view.errors[0]
    assert view.run_id is not None
    assert runs.runs[view.run_id].status == RunStatus.FAILED


async def test_a_run_whose_database_is_gone_answers_failed_and_never_raises(world: World) -> None:
    runs = FakeJobRuns()
    runs.down = True
    before = counted("intake_cleanup_job_runs_total", job=Job.RECONCILE.value, status="failed")
    view = await service(world, runs).run(Job.RECONCILE)
    assert view.status == RunStatus.FAILED
    assert "reconcile run" in view.errors[0]
    assert runs.runs == {}
    assert (
        counted("intake_cleanup_job_runs_total", job=Job.RECONCILE.value, status="failed")
        == before + 1
    )


async def test_the_run_command_names_a_job_or_is_refused(world: World) -> None:
    cleanup = service(world, FakeJobRuns())

    def command(job: str) -> Command[RunCleanupJob]:
        envelope = Envelope(type="run_cleanup_job", correlation_id="c", payload={"job": job})
        return Command(envelope, RunCleanupJob(job=job))

    assert (await cleanup.run_command(command("reconcile"), None)).status == RunStatus.OK
    with pytest.raises(DomainError) as refused:
        await cleanup.run_command(command("nope"), None)
    assert refused.value.code == ErrorCode.UNKNOWN_JOB
