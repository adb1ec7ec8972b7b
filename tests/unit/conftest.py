"""Fixtures every unit test shares."""

import pytest


@pytest.fixture
def bucket() -> str:
    """The bucket of the storage contracts run on fakes (on the real store, tests/conftest.py
    gives the stack's bucket)."""
    return "intake-contract"
