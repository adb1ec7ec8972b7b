"""The SagaDatabase contract held by the in-memory fake (the Postgres adapter runs the same
suite in tests/integration/test_completion_ports.py)."""

import dataclasses
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from tests.support.contracts.completion import Expire, SagaDatabaseContract
from tests.support.fakes.completion import FakeSagaDatabase
from tests.support.fakes.runtime import FakeClock


class TestFakeSagaDatabase(SagaDatabaseContract):
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock(datetime(2026, 3, 1, tzinfo=UTC))

    @pytest.fixture
    def database(self, clock: FakeClock) -> FakeSagaDatabase:
        return FakeSagaDatabase(clock)

    @pytest.fixture
    def expire(self, database: FakeSagaDatabase, clock: FakeClock) -> Expire:
        """As the integration suite does in SQL: the row's lease ends in the clock's past."""

        async def expire(session_id: UUID) -> None:
            row = database.saga.rows[session_id]
            lapsed = clock.now - timedelta(seconds=1)
            row.attempt = dataclasses.replace(row.attempt, lease_until=lapsed)

        return expire
