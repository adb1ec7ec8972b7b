"""The EventLog contract held by the in-memory fake (the Postgres adapter runs the same suite
in tests/integration/test_audit_ports.py)."""

import pytest

from tests.support.contracts import EventLogContract
from tests.support.fakes import FakeEventLog


class TestFakeEventLog(EventLogContract):
    @pytest.fixture
    def events(self) -> FakeEventLog:
        return FakeEventLog()
