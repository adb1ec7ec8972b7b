"""Audit's recorded events against the real Postgres: the same contract suite as the fake."""

from collections.abc import AsyncIterator

import pytest

import intake_audit.app as audit_app
from intake_audit.repo import PostgresEvents
from intake_audit.settings import SCHEMA, AuditSettings
from intake_runtime.bootstrap import package_dir
from intake_runtime.postgres.migrations import migrate
from intake_runtime.postgres.pool import create_pool
from tests.support.contracts.audit import EventsContract

pytestmark = pytest.mark.integration


class TestPostgresEvents(EventsContract):
    @pytest.fixture
    async def events(self, stack_env: dict[str, str]) -> AsyncIterator[PostgresEvents]:
        """Rows of tenants unique to each test: they never meet another test's."""
        pool = await create_pool(
            AuditSettings(DATABASE_URL=stack_env["DATABASE_URL"], INTAKE_ENV="local")
        )
        try:
            await migrate(pool, SCHEMA, package_dir(audit_app.__file__, "migrations"))
            yield PostgresEvents(pool)
        finally:
            await pool.close()
