"""Completion's ports against the real stack: the same contract suites as the fakes."""

from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import pytest

import intake_completion.app as completion_app
from intake_completion.repo import PostgresSagaDatabase
from intake_completion.settings import SCHEMA, CompletionSettings
from intake_completion.storage import CopyPlan, S3CompletionStorage
from intake_runtime.bootstrap import package_dir
from intake_runtime.postgres.lifecycle import migrated_pool
from intake_runtime.postgres.outbox import Outbox
from intake_runtime.storage.s3 import open_object_store
from tests.support.contracts.completion import Expire, SagaDatabaseContract
from tests.support.contracts.completion_storage import CompletionStorageContract

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def _settings(stack_env: dict[str, str]) -> CompletionSettings:
    keys = ("DATABASE_URL", "AWS_ENDPOINT_URL", "AWS_BUCKET")
    return CompletionSettings(**{key: stack_env[key] for key in keys}, INTAKE_ENV="local")


class TestPostgresSagaDatabase(SagaDatabaseContract):
    """Rows of sessions and tenants unique to each test: they never meet another test's. The
    rolled-back test leaves nothing; the others leave saga rows a real run would prune."""

    @pytest.fixture
    async def pool(self, stack_env: dict[str, str]) -> AsyncIterator[asyncpg.Pool]:
        migrations = package_dir(completion_app.__file__, "migrations")
        async with migrated_pool(_settings(stack_env), SCHEMA, migrations) as pool:
            yield pool

    @pytest.fixture
    def database(self, pool: asyncpg.Pool) -> PostgresSagaDatabase:
        return PostgresSagaDatabase(pool, Outbox(SCHEMA))

    @pytest.fixture
    def expire(self, pool: asyncpg.Pool) -> Expire:
        """The lease ends in the database's past: its own clock, as the leases use."""

        async def expire(session_id: UUID) -> None:
            await pool.execute(
                "UPDATE completion.completions SET lease_until = now() - interval '1 second'"
                " WHERE upload_session_id = $1",
                session_id,
            )

        return expire


class TestS3CompletionStorage(CompletionStorageContract):
    @pytest.fixture
    async def storage(self, stack_env: dict[str, str]) -> AsyncIterator[S3CompletionStorage]:
        async with open_object_store(_settings(stack_env)) as store:
            yield S3CompletionStorage(store, CopyPlan(256 * MiB, 256 * MiB, 2))


class TestS3CompletionStorageCopyingInParts(TestS3CompletionStorage):
    """The same contract with promotion's multipart copy (UploadPartCopy, then
    CompleteMultipartUpload with If-None-Match: *)."""

    @pytest.fixture
    def size(self) -> int:
        return 6 * MiB

    @pytest.fixture
    async def storage(self, stack_env: dict[str, str]) -> AsyncIterator[S3CompletionStorage]:
        async with open_object_store(_settings(stack_env)) as store:
            yield S3CompletionStorage(store, CopyPlan(5 * MiB, 5 * MiB, 2))
