"""The cleanup jobs' in-memory world, fresh for each test."""

import pytest

from tests.support.cleanup import World, new_world


@pytest.fixture
def world() -> World:
    return new_world()
