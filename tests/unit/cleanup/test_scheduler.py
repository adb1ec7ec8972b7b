"""The in-process schedule runs each session job once per configured tenant, and every other
job once, so a soak's cleanup never acts on another test's sessions in a shared database."""

import asyncio
import random
from typing import cast

import pytest

from intake_cleanup import scheduler
from intake_cleanup.domain import SESSION_JOBS, Job
from intake_cleanup.service import CleanupService
from intake_cleanup.settings import CleanupSettings


class RecordingService:
    def __init__(self) -> None:
        self.runs: list[tuple[Job, str | None]] = []

    async def run(self, job: Job, tenant_id: str | None = None) -> None:
        self.runs.append((job, tenant_id))


async def first_runs(tenants: str, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Job, str | None]]:
    settings = CleanupSettings(
        INTAKE_ENV="local", INTAKE_CLEANUP_FIRST_RUN_DELAY_S="0", INTAKE_CLEANUP_TENANTS=tenants
    )
    # No jitter: with no first-run delay every job's first runs start at once.
    monkeypatch.setattr(random, "uniform", lambda _low, _high: 0.0)
    service = RecordingService()
    async with scheduler.running_schedule(cast(CleanupService, service), settings):
        for _ in range(20):
            await asyncio.sleep(0)
    return service.runs


async def test_session_jobs_run_once_per_configured_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = await first_runs("soak-a,soak-b", monkeypatch)
    for job in SESSION_JOBS:
        assert [tenant for ran, tenant in runs if ran == job] == ["soak-a", "soak-b"]
    for job in set(Job) - SESSION_JOBS:
        assert [tenant for ran, tenant in runs if ran == job] == [None]


async def test_without_tenants_every_job_runs_over_every_tenant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = await first_runs("", monkeypatch)
    assert sorted(runs) == sorted((job, None) for job in Job)
