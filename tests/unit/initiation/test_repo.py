"""The SessionRepository contract held by the in-memory fake (the Postgres adapter runs the
same suite in tests/integration/test_initiation_ports.py)."""

import pytest

from tests.support.contracts.initiation import SessionRepositoryContract
from tests.support.fakes.initiation import FakeSessions


class TestFakeSessions(SessionRepositoryContract):
    @pytest.fixture
    def sessions(self) -> FakeSessions:
        return FakeSessions()
