"""The IndexDatabase contract held by the in-memory fake (the Postgres adapter runs the same
suite in tests/integration/test_cleanup_ports.py)."""

import pytest

from tests.support.contracts import (
    IndexDatabaseContract,
)
from tests.support.fakes import FakeIndexDatabase


class TestFakeIndexDatabase(IndexDatabaseContract):
    @pytest.fixture
    def database(self) -> FakeIndexDatabase:
        return FakeIndexDatabase()
