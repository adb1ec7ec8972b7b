"""The CompletionStorage contract held by the in-memory fake (the S3 adapter runs the same
suite in tests/integration/test_completion_ports.py)."""

import pytest

from tests.support.contracts.completion_storage import CompletionStorageContract, Exists, Put, Read
from tests.support.fakes.completion_storage import FakeCompletionStorage


class TestFakeCompletionStorage(CompletionStorageContract):
    @pytest.fixture
    def storage(self) -> FakeCompletionStorage:
        return FakeCompletionStorage()

    @pytest.fixture
    def put(self, storage: FakeCompletionStorage) -> Put:
        async def put(bucket: str, key: str, data: bytes) -> None:
            storage.objects[bucket, key] = data

        return put

    @pytest.fixture
    def read(self, storage: FakeCompletionStorage) -> Read:
        async def read(bucket: str, key: str) -> bytes:
            return storage.objects[bucket, key]

        return read

    @pytest.fixture
    def exists(self, storage: FakeCompletionStorage) -> Exists:
        async def exists(bucket: str, key: str) -> bool:
            return (bucket, key) in storage.objects

        return exists
