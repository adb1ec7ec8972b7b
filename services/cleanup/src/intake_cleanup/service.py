"""Running a job: one replica at a time, never raising, recorded in job_runs and the outbox."""

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from intake_cleanup import domain, repo
from intake_cleanup.domain import Job, RunStatus
from intake_cleanup.peers import SYSTEM_TENANT, Peers, system_principal
from intake_cleanup.permanent_uploads import PermanentUploads
from intake_cleanup.repo import PostgresIndex
from intake_cleanup.report import RunReport
from intake_cleanup.retention_jobs import RetentionJobs
from intake_cleanup.retention_repo import PostgresRetention
from intake_cleanup.session_jobs import SessionJobs
from intake_cleanup.settings import CleanupSettings
from intake_cleanup.storage_jobs import StorageJobs
from intake_contracts.commands import JobRunView, RunCleanupJob
from intake_contracts.events import CleanupRunCompleted, EventType
from intake_runtime import metrics
from intake_runtime.messaging.dispatch import Command
from intake_runtime.messaging.reply_topics import KafkaReplyTopics
from intake_runtime.postgres.outbox import Outbox
from intake_runtime.storage.s3 import ObjectStore

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
JobBody = Callable[[RunReport, datetime, str | None], Awaitable[None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


class CleanupService:
    def __init__(
        self,
        settings: CleanupSettings,
        pool: asyncpg.Pool,
        store: ObjectStore,
        peers: Peers,
        outbox: Outbox,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._outbox = outbox
        self._now = clock
        index = PostgresIndex(pool)
        sessions = SessionJobs(settings, index, peers, store)
        storage = StorageJobs(settings, index, store)
        permanent = PermanentUploads(settings, store, peers)
        topics = KafkaReplyTopics(settings.kafka_bootstrap_servers)
        retention = RetentionJobs(settings, PostgresRetention(pool), peers, topics)

        async def orphaned_multipart(report: RunReport, now: datetime, _: str | None) -> None:
            await storage.orphaned_multipart(report, now)
            await permanent.sweep(report, await storage.buckets(), now)

        # Storage jobs ignore a tenant scope: a temp key does not name its tenant.
        self._jobs: dict[Job, JobBody] = {
            Job.DETECT_ABANDONED: sessions.detect_abandoned,
            Job.EXPIRE_SESSIONS: sessions.expire_sessions,
            Job.RECONCILE: sessions.reconcile,
            Job.ORPHANED_TEMP_OBJECTS: lambda r, now, _: storage.orphaned_temp_objects(r, now),
            Job.ORPHANED_MULTIPART: orphaned_multipart,
            # Retention is by age, across tenants: a tenant scope does not apply.
            Job.PRUNE_SESSIONS: retention.prune_sessions,
            Job.SWEEP_REPLY_TOPICS: lambda r, now, _: retention.sweep_reply_topics(r, now),
        }

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
            async with self._job_lock(job) as locked:
                if not locked:
                    log.info("job already running on another replica", extra={"job": job})
                    await self._start_run(run_id, job, started, RunStatus.SKIPPED)
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
        await self._start_run(run_id, job, started, RunStatus.RUNNING)
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

    async def _start_run(
        self, run_id: UUID, job: Job, started: datetime, status: RunStatus
    ) -> None:
        await repo.start_run(
            self._pool,
            run_id,
            job=job,
            instance_id=self._settings.instance_id,
            started_at=started,
            status=status,
        )

    async def _record(self, view: JobRunView, report: RunReport) -> None:
        """The run's row and its events commit together; thousands of events in one insert."""
        assert view.run_id is not None  # noqa: S101 - _view set them
        assert view.finished_at is not None  # noqa: S101
        assert view.started_at is not None  # noqa: S101
        summary = CleanupRunCompleted(
            run_id=view.run_id,
            job=view.job,
            status=view.status,
            started_at=view.started_at,
            finished_at=view.finished_at,
            stats=view.stats,
            errors=view.errors,
        )
        events: list[tuple[EventType, BaseModel, str, str | None]] = [
            (EventType.CLEANUP_RESIDUE_REMOVED, residue, residue.key, residue.tenant_id)
            for residue in report.residue
        ]
        events.append((EventType.CLEANUP_RUN_COMPLETED, summary, str(view.run_id), None))
        async with self._pool.acquire() as connection, connection.transaction():
            await repo.finish_run(
                connection,
                view.run_id,
                status=view.status,
                finished_at=view.finished_at,
                stats=view.stats,
                errors=view.errors,
            )
            await self._outbox.add_many(
                connection,
                events,
                correlation_id=str(view.run_id),
                principal=system_principal(SYSTEM_TENANT),
            )

    @contextlib.asynccontextmanager
    async def _job_lock(self, job: Job) -> AsyncIterator[bool]:
        """A session-level advisory lock on a connection held for the whole run; it is
        released with the connection if the process dies, so a crash never blocks a job."""
        async with self._pool.acquire() as connection:
            locked = await repo.try_job_lock(connection, job)
            try:
                yield locked
            finally:
                if locked:
                    await _unlock(connection, job)


async def _unlock(connection: repo.Connection, job: str) -> None:
    try:
        await repo.job_unlock(connection, job)
    except Exception:
        # The lock must not outlive the run: drop the connection, and the lock with it.
        log.warning("job unlock failed; closing its connection", extra={"job": job})
        connection.terminate()


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
