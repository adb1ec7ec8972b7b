"""The Events contract held by the in-memory fake (the Postgres adapter runs the same suite
in tests/integration/test_audit_ports.py)."""

import pytest

from tests.support.contracts.audit import EventsContract
from tests.support.fakes.audit import FakeEvents


class TestFakeEvents(EventsContract):
    @pytest.fixture
    def events(self) -> FakeEvents:
        return FakeEvents()
