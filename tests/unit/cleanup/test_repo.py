"""The IndexDatabase and JobRuns contracts held by the in-memory fakes (the Postgres adapters
run the same suites in tests/integration/test_cleanup_ports.py)."""

import uuid

import pytest

from intake_contracts.events import EventType
from tests.support.contracts.cleanup import IndexDatabaseContract
from tests.support.contracts.cleanup_runs import JobRunsContract, RunEventTypes, StoredRun
from tests.support.fakes.cleanup import FakeIndexDatabase, FakeJobRuns, JobRun


class TestFakeIndexDatabase(IndexDatabaseContract):
    @pytest.fixture
    def database(self) -> FakeIndexDatabase:
        return FakeIndexDatabase()


class TestFakeJobRuns(JobRunsContract):
    @pytest.fixture
    def runs(self) -> FakeJobRuns:
        return FakeJobRuns()

    @pytest.fixture
    def stored(self, runs: FakeJobRuns) -> StoredRun:
        async def stored(run_id: uuid.UUID) -> JobRun | None:
            return runs.runs.get(run_id)

        return stored

    @pytest.fixture
    def emitted(self, runs: FakeJobRuns) -> RunEventTypes:
        async def emitted(run_id: uuid.UUID) -> list[EventType]:
            return [e.event_type for e in runs.outbox.events if e.correlation_id == str(run_id)]

        return emitted
