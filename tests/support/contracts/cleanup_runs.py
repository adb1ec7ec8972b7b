"""Cleanup's contract suite for the job runs' record."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from intake_cleanup.domain import Job, RunStatus
from intake_cleanup.ports import (
    JobRuns,
    RunEvents,
)
from intake_cleanup.service import summary
from intake_contracts.commands import (
    JobRunView,
)
from intake_contracts.envelope import Principal
from intake_contracts.events import (
    EventType,
    ResidueRemoved,
)
from tests.support.contracts.common import NOW
from tests.support.fakes.cleanup import JobRun

# The JobRuns' record of one run, and the event types written with it (oldest first).
StoredRun = Callable[[uuid.UUID], Awaitable[JobRun | None]]


RunEventTypes = Callable[[uuid.UUID], Awaitable[list[EventType]]]


def finished_run(run_id: uuid.UUID, job: Job, status: RunStatus) -> JobRunView:
    return JobRunView(
        run_id=run_id,
        job=job,
        status=status,
        started_at=NOW,
        finished_at=NOW + timedelta(seconds=3),
        stats={"failed": 2},
        errors=["complete s1: service_timeout"],
    )


def residue(job: Job) -> ResidueRemoved:
    key = f"temp/uploads/{uuid.uuid4()}/original"
    return ResidueRemoved(
        job=job,
        action="delete",
        bucket="intake-contract",
        key=key,
        upload_id=None,
        upload_session_id=None,
        tenant_id=None,
        reason="orphaned",
    )


SYSTEM = Principal(user_id="system:cleanup", tenant_id="system", service="cleanup")


class JobRunsContract:
    """What CleanupService relies on from any JobRuns: one holder of a job's lock at a time,
    and a record of every run whose outcome commits with its events or not at all. `stored`
    reads a run's record back, `emitted` the types of the events written with it."""

    async def test_a_job_is_held_by_one_run_at_a_time(self, runs: JobRuns) -> None:
        async with runs.lock(Job.RECONCILE) as first:
            assert first
            async with runs.lock(Job.RECONCILE) as second:
                assert not second
            async with runs.lock(Job.EXPIRE_SESSIONS) as other_job:
                assert other_job
        async with runs.lock(Job.RECONCILE) as again:  # released with the run
            assert again

    async def test_a_run_is_recorded_from_its_start_to_its_outcome_with_its_events(
        self, runs: JobRuns, stored: StoredRun, emitted: RunEventTypes
    ) -> None:
        run_id = uuid.uuid4()
        await runs.start(run_id, Job.ORPHANED_TEMP_OBJECTS, NOW, RunStatus.RUNNING)
        started = await stored(run_id)
        assert started is not None
        assert (started.status, started.started_at, started.finished_at) == (
            RunStatus.RUNNING,
            NOW,
            None,
        )
        run = finished_run(run_id, Job.ORPHANED_TEMP_OBJECTS, RunStatus.FAILED)
        events: RunEvents = [
            (EventType.CLEANUP_RESIDUE_REMOVED, residue(Job.ORPHANED_TEMP_OBJECTS), "k", None),
            (EventType.CLEANUP_RUN_COMPLETED, summary(run), str(run_id), None),
        ]
        await runs.finish(run, events, SYSTEM)
        finished = await stored(run_id)
        assert finished is not None
        assert (finished.status, finished.finished_at, finished.stats, finished.errors) == (
            RunStatus.FAILED,
            run.finished_at,
            run.stats,
            run.errors,
        )
        assert await emitted(run_id) == [
            EventType.CLEANUP_RESIDUE_REMOVED,
            EventType.CLEANUP_RUN_COMPLETED,
        ]

    async def test_a_skipped_run_is_finished_when_it_starts(
        self, runs: JobRuns, stored: StoredRun, emitted: RunEventTypes
    ) -> None:
        run_id = uuid.uuid4()
        await runs.start(run_id, Job.RECONCILE, NOW, RunStatus.SKIPPED)
        skipped = await stored(run_id)
        assert skipped is not None
        assert (skipped.job, skipped.status, skipped.finished_at) == (
            Job.RECONCILE,
            RunStatus.SKIPPED,
            NOW,
        )
        assert await emitted(run_id) == []
        assert await stored(uuid.uuid4()) is None

    async def test_an_outcome_whose_events_are_refused_is_not_recorded(
        self, runs: JobRuns, stored: StoredRun, emitted: RunEventTypes
    ) -> None:
        run_id = uuid.uuid4()
        await runs.start(run_id, Job.RECONCILE, NOW, RunStatus.RUNNING)
        run = finished_run(run_id, Job.RECONCILE, RunStatus.OK)
        wrong: RunEvents = [
            (EventType.CLEANUP_RUN_COMPLETED, summary(run), str(run_id), None),
            # An event of another type's model: the whole outcome is refused.
            (EventType.CLEANUP_RUN_COMPLETED, residue(Job.RECONCILE), "k", None),
        ]
        with pytest.raises(TypeError):
            await runs.finish(run, wrong, SYSTEM)
        unfinished = await stored(run_id)
        assert unfinished is not None
        assert (unfinished.status, unfinished.finished_at) == (RunStatus.RUNNING, None)
        assert await emitted(run_id) == []
