"""The PruneRepository contract held by the in-memory fake (the Postgres adapter runs the
same suite in tests/integration/test_cleanup_ports.py)."""

import pytest

from tests.support.contracts.cleanup import PruneRepositoryContract
from tests.support.fakes.cleanup import FakePrune


class TestFakePrune(PruneRepositoryContract):
    @pytest.fixture
    def prune_repo(self) -> FakePrune:
        return FakePrune()
