"""The SessionStorage contract held by the in-memory fake (the S3 adapter runs the same suite
in tests/integration/test_initiation_ports.py)."""

import pytest

from tests.support.contracts.initiation import SessionStorageContract
from tests.support.fakes.initiation import FakeSessionStorage


class TestFakeSessionStorage(SessionStorageContract):
    @pytest.fixture
    def storage(self) -> FakeSessionStorage:
        return FakeSessionStorage()
