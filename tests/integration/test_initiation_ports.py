"""Initiation's ports against the real stack: the same contract suites as the fakes."""

from collections.abc import AsyncIterator

import pytest

import intake_initiation.app as initiation_app
from intake_initiation.repo import PostgresSessions
from intake_initiation.settings import SCHEMA, InitiationSettings
from intake_initiation.storage import S3SessionStorage
from intake_runtime.bootstrap import package_dir
from intake_runtime.postgres.lifecycle import migrated_pool
from intake_runtime.storage.s3 import open_object_store
from tests.support.contracts.initiation import SessionRepositoryContract, SessionStorageContract

pytestmark = pytest.mark.integration


def _settings(stack_env: dict[str, str]) -> InitiationSettings:
    keys = ("DATABASE_URL", "AWS_ENDPOINT_URL", "AWS_BUCKET")
    return InitiationSettings(**{key: stack_env[key] for key in keys}, INTAKE_ENV="local")


class TestPostgresSessions(SessionRepositoryContract):
    @pytest.fixture
    async def sessions(self, stack_env: dict[str, str]) -> AsyncIterator[PostgresSessions]:
        """Each test in a transaction of its own, rolled back: it leaves no rows behind."""
        migrations = package_dir(initiation_app.__file__, "migrations")
        async with (
            migrated_pool(_settings(stack_env), SCHEMA, migrations) as pool,
            pool.acquire() as connection,
        ):
            transaction = connection.transaction()
            await transaction.start()
            yield PostgresSessions(connection)
            await transaction.rollback()


class TestS3SessionStorage(SessionStorageContract):
    @pytest.fixture
    async def storage(self, stack_env: dict[str, str]) -> AsyncIterator[S3SessionStorage]:
        async with open_object_store(_settings(stack_env)) as store:
            yield S3SessionStorage(store)
