"""Cleanup's ports against the real stack: the same contract suites as the fakes."""

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

import intake_cleanup.app as cleanup_app
from intake_cleanup.domain import Job, RunStatus
from intake_cleanup.repo import PostgresIndexDatabase, PostgresJobRuns
from intake_cleanup.retention_repo import PostgresRetention
from intake_cleanup.settings import SCHEMA, CleanupSettings
from intake_contracts.events import EventType
from intake_runtime.bootstrap import package_dir
from intake_runtime.postgres.migrations import migrate
from intake_runtime.postgres.outbox import Outbox
from intake_runtime.postgres.pool import create_pool
from intake_runtime.storage.s3 import ObjectStore, open_object_store
from tests.support.contracts import (
    CleanupStorageContract,
    IndexDatabaseContract,
    JobRunsContract,
    OpenUpload,
    RetentionRepositoryContract,
    RunEventTypes,
    StoredRun,
)
from tests.support.fakes import JobRun

pytestmark = pytest.mark.integration


def _settings(stack_env: dict[str, str]) -> CleanupSettings:
    keys = ("DATABASE_URL", "AWS_ENDPOINT_URL", "AWS_BUCKET")
    return CleanupSettings(**{key: stack_env[key] for key in keys}, INTAKE_ENV="local")


@pytest.fixture
async def pool(stack_env: dict[str, str]) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(_settings(stack_env))
    try:
        await migrate(pool, SCHEMA, package_dir(cleanup_app.__file__, "migrations"))
        yield pool
    finally:
        await pool.close()


class TestPostgresIndexDatabase(IndexDatabaseContract):
    """Sessions of a tenant unique to each test, every read scoped to it."""

    @pytest.fixture
    def database(self, pool: asyncpg.Pool) -> PostgresIndexDatabase:
        return PostgresIndexDatabase(pool)


class TestPostgresRetention(RetentionRepositoryContract):
    @pytest.fixture
    def retention(self, pool: asyncpg.Pool) -> PostgresRetention:
        return PostgresRetention(pool)


class TestObjectStore(CleanupStorageContract):
    @pytest.fixture
    def bucket(self, stack_env: dict[str, str]) -> str:
        return stack_env["AWS_BUCKET"]

    @pytest.fixture
    async def storage(self, stack_env: dict[str, str]) -> AsyncIterator[ObjectStore]:
        async with open_object_store(_settings(stack_env)) as store:
            yield store

    @pytest.fixture
    def open_upload(self, storage: ObjectStore) -> OpenUpload:
        async def open_upload(bucket: str, key: str) -> str:
            return (await storage.create_multipart(bucket, key, "text/plain")).upload_id

        return open_upload


class TestPostgresJobRuns(JobRunsContract):
    """Runs of ids unique to each test; the locks are the jobs' own (nothing else runs them
    here: the e2e services run with their schedule off)."""

    @pytest.fixture
    def runs(self, pool: asyncpg.Pool) -> PostgresJobRuns:
        return PostgresJobRuns(pool, Outbox(SCHEMA), "contract-tests")

    @pytest.fixture
    def stored(self, pool: asyncpg.Pool) -> StoredRun:
        async def stored(run_id: uuid.UUID) -> JobRun | None:
            row = await pool.fetchrow(
                "SELECT job, status, started_at, finished_at, stats, errors"
                " FROM cleanup.job_runs WHERE run_id = $1",
                run_id,
            )
            if row is None:
                return None
            return JobRun(
                Job(row["job"]),
                RunStatus(row["status"]),
                row["started_at"],
                row["finished_at"],
                row["stats"],
                row["errors"],
            )

        return stored

    @pytest.fixture
    def emitted(self, pool: asyncpg.Pool) -> RunEventTypes:
        async def emitted(run_id: uuid.UUID) -> list[EventType]:
            rows = await pool.fetch(
                "SELECT envelope->>'type' AS type FROM cleanup.outbox"
                " WHERE envelope->>'correlation_id' = $1 ORDER BY id",
                str(run_id),
            )
            return [EventType(row["type"]) for row in rows]

        return emitted
