"""Each job on its own interval inside the service; the advisory lock keeps replicas apart."""

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator

from intake_cleanup.domain import Job, tenant_scopes
from intake_cleanup.service import CleanupService
from intake_cleanup.settings import CleanupSettings

log = logging.getLogger(__name__)


def intervals(settings: CleanupSettings) -> dict[Job, float]:
    return {
        Job.DETECT_ABANDONED: settings.abandoned_every_s,
        Job.EXPIRE_SESSIONS: settings.expire_every_s,
        Job.ORPHANED_TEMP_OBJECTS: settings.orphan_temp_every_s,
        Job.ORPHANED_MULTIPART: settings.orphan_multipart_every_s,
        Job.RECONCILE: settings.reconcile_every_s,
        Job.PRUNE_SESSIONS: settings.prune_sessions_every_s,
        Job.SWEEP_REPLY_TOPICS: settings.sweep_reply_topics_every_s,
    }


@contextlib.asynccontextmanager
async def running_schedule(
    service: CleanupService, settings: CleanupSettings
) -> AsyncIterator[None]:
    tasks: list[asyncio.Task[None]] = []
    if settings.schedule == "on":
        tasks = [
            asyncio.create_task(
                _every(service, job, every, settings.first_run_delay_s, settings.tenant_scope),
                name=job,
            )
            for job, every in intervals(settings).items()
        ]
        log.info("scheduler on", extra={"intervals": intervals(settings)})
    else:
        log.info("scheduler off: jobs run on command or from the command line")
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _every(
    service: CleanupService, job: Job, every_s: float, first_delay_s: float, tenants: list[str]
) -> None:
    # Jitter spreads replicas and jobs apart; the lock makes overlap harmless anyway.
    await asyncio.sleep(first_delay_s + random.uniform(0, min(every_s, 60.0)))
    while True:
        for scope in tenant_scopes(job, tenants):
            await service.run(job, scope)  # never raises: failures are recorded, retried later
        await asyncio.sleep(every_s)
