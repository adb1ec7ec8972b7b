"""The RetentionRepository contract held by the in-memory fake (the Postgres adapter runs the
same suite in tests/integration/test_cleanup_ports.py)."""

import pytest

from tests.support.contracts.cleanup import RetentionRepositoryContract
from tests.support.fakes.cleanup import FakeRetention


class TestFakeRetention(RetentionRepositoryContract):
    @pytest.fixture
    def retention(self) -> FakeRetention:
        return FakeRetention()
