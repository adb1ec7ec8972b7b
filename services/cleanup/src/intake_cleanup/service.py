"""Running a job: one replica at a time, never raising, recorded in job_runs and the outbox.

The service depends on ports only (ports.py): `JobRuns` for the lock and the records, and the
jobs' own ports, wired by `job_bodies`. app.py hands in the Postgres, S3 and Kafka adapters;
the unit tests hand in the fakes (tests/support/fakes/).
"""

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from uuid import UUID

from intake_cleanup import domain
from intake_cleanup.domain import Job, RunStatus
from intake_cleanup.outbound import SYSTEM_TENANT, system_principal
from intake_cleanup.permanent_uploads import PermanentUploads
from intake_cleanup.ports import (
    CleanupStorage,
    IndexRepository,
    JobRuns,
    OutboundCommands,
    PruneRepository,
    ReplyTopics,
    RunEvents,
)
from intake_cleanup.prune_jobs import PruneJobs
from intake_cleanup.report import RunReport
from intake_cleanup.session_jobs import SessionJobs
from intake_cleanup.settings import CleanupSettings
from intake_cleanup.storage_jobs import StorageJobs
from intake_contracts.commands import JobRunView, RunCleanupJob
from intake_contracts.events import CleanupRunCompleted, EventType
from intake_runtime import metrics
from intake_runtime.messaging.dispatch import Command
from intake_runtime.ports import Clock, utc_now

log = logging.getLogger(__name__)

JobBody = Callable[[RunReport, datetime, str | None], Awaitable[None]]


def job_bodies(  # noqa: PLR0917 - one port per kind of world the jobs touch
    settings: CleanupSettings,
    index: IndexRepository,
    store: CleanupStorage,
    outbound: OutboundCommands,
    prune_repo: PruneRepository,
    reply_topics: ReplyTopics,
) -> dict[Job, JobBody]:
    """Each job's body over its ports: (report, now, tenant scope or None)."""
    sessions = SessionJobs(settings, index, outbound, store)
    storage = StorageJobs(settings, index, store)
    permanent = PermanentUploads(settings, store, outbound)
    prune_jobs = PruneJobs(settings, prune_repo, outbound, reply_topics)

    async def orphaned_multipart(report: RunReport, now: datetime, _: str | None) -> None:
        await storage.orphaned_multipart(report, now)
        await permanent.sweep(report, await storage.buckets(), now)

    # Storage jobs ignore a tenant scope: a temp key does not name its tenant.
    return {
        Job.DETECT_ABANDONED: sessions.detect_abandoned,
        Job.EXPIRE_SESSIONS: sessions.expire_sessions,
        Job.RECONCILE: sessions.reconcile,
        Job.ORPHANED_TEMP_OBJECTS: lambda r, now, _: storage.orphaned_temp_objects(r, now),
        Job.ORPHANED_MULTIPART: orphaned_multipart,
        # Pruning is by age, across tenants: a tenant scope does not apply.
        Job.PRUNE_SESSIONS: prune_jobs.prune_sessions,
        Job.SWEEP_REPLY_TOPICS: lambda r, now, _: prune_jobs.sweep_reply_topics(r, now),
    }


class CleanupService:
    def __init__(
        self, runs: JobRuns, jobs: Mapping[Job, JobBody], *, clock: Clock = utc_now
    ) -> None:
        self._runs = runs
        self._jobs = jobs
        self._now = clock

    async def run_command(self, command: Command[RunCleanupJob], _tx: object) -> JobRunView:
        return await self.run(domain.parse_job(command.payload.job))

    async def run(self, job: Job, tenant_id: str | None = None) -> JobRunView:
        """Run `job` once unless another replica is running it. Never raises.

        Args:
            tenant_id: limit the session jobs to one tenant (operations, tests).
        """
        view = await self._run(job, tenant_id)
        metrics.observe_job(job, view.status, _duration_s(view), view.stats)
        return view

    async def _run(self, job: Job, tenant_id: str | None) -> JobRunView:
        run_id, started = uuid.uuid4(), self._now()
        try:
            async with self._runs.lock(job) as locked:
                if not locked:
                    log.info("job already running on another replica", extra={"job": job})
                    await self._runs.start(run_id, job, started, RunStatus.SKIPPED)
                    return _view(run_id, job, RunStatus.SKIPPED, started, started, RunReport(job))
                return await self._run_locked(job, run_id, started, tenant_id)
        except Exception as error:  # Postgres itself failed: log it, the next run retries
            log.exception("job run not recorded", extra={"job": job, "run_id": str(run_id)})
            report = RunReport(job)
            report.error(f"{job} run", error)
            return _view(run_id, job, RunStatus.FAILED, started, self._now(), report)

    async def _run_locked(
        self, job: Job, run_id: UUID, started: datetime, tenant_id: str | None
    ) -> JobRunView:
        await self._runs.start(run_id, job, started, RunStatus.RUNNING)
        log.info("job started", extra={"job": job, "run_id": str(run_id)})
        report = RunReport(job)
        try:
            await self._jobs[job](report, started, tenant_id)
        except Exception as error:  # S3 or Kafka gone mid-run: recorded, the next run retries
            report.error(f"{job} stopped", error)
        view = _view(run_id, job, domain.run_status(report.errors), started, self._now(), report)
        await self._record(view, report)
        log.info(
            "job finished",
            extra={"job": job, "run_id": str(run_id), "status": view.status, "stats": view.stats},
        )
        return view

    async def _record(self, view: JobRunView, report: RunReport) -> None:
        """The run's row and its events commit together; thousands of events in one insert."""
        assert view.run_id is not None  # noqa: S101 - _view set it
        events: RunEvents = [
            (EventType.CLEANUP_RESIDUE_REMOVED, residue, residue.key, residue.tenant_id)
            for residue in report.residue
        ]
        events.append((EventType.CLEANUP_RUN_COMPLETED, summary(view), str(view.run_id), None))
        await self._runs.finish(view, events, system_principal(SYSTEM_TENANT))


def summary(view: JobRunView) -> CleanupRunCompleted:
    """The `cleanup.run_completed` event of a finished run."""
    if view.run_id is None or view.started_at is None or view.finished_at is None:
        raise ValueError("only a finished run has a summary")
    return CleanupRunCompleted(
        run_id=view.run_id,
        job=view.job,
        status=view.status,
        started_at=view.started_at,
        finished_at=view.finished_at,
        stats=view.stats,
        errors=view.errors,
    )


def _duration_s(view: JobRunView) -> float:
    if view.started_at is None or view.finished_at is None:
        return 0.0
    return (view.finished_at - view.started_at).total_seconds()


def _view(  # noqa: PLR0917 - mirrors JobRunView's fields
    run_id: UUID,
    job: str,
    status: RunStatus,
    started: datetime,
    finished: datetime,
    report: RunReport,
) -> JobRunView:
    return JobRunView(
        run_id=run_id,
        job=job,
        status=status,
        started_at=started,
        finished_at=finished,
        stats=dict(report.stats),
        errors=list(report.errors),
    )
