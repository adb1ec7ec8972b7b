"""The EventLog contract held by the in-memory fake (the Postgres adapter runs the same suite
in tests/integration/test_audit_ports.py)."""

import pytest

from tests.support.contracts.audit import EventLogContract
from tests.support.fakes.audit import FakeEventLog


class TestFakeEventLog(EventLogContract):
    @pytest.fixture
    def events(self) -> FakeEventLog:
        return FakeEventLog()
