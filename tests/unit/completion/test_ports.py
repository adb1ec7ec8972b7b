"""Completion's port contracts held by the in-memory fakes (the Postgres and S3 adapters run
the same suites in tests/integration/test_completion_ports.py)."""

import dataclasses
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from tests.support.contracts import (
    CompletionStorageContract,
    Exists,
    Expire,
    Put,
    SagaDatabaseContract,
)
from tests.support.fakes import FakeClock, FakeCompletionStorage, FakeSagaDatabase


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


class TestFakeCompletionStorage(CompletionStorageContract):
    @pytest.fixture
    def storage(self) -> FakeCompletionStorage:
        return FakeCompletionStorage()

    @pytest.fixture
    def put(self, storage: FakeCompletionStorage) -> Put:
        async def put(bucket: str, key: str, data: bytes) -> None:
            storage.objects[bucket, key] = data

        return put

    @pytest.fixture
    def exists(self, storage: FakeCompletionStorage) -> Exists:
        async def exists(bucket: str, key: str) -> bool:
            return (bucket, key) in storage.objects

        return exists
