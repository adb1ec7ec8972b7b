"""The CleanupStorage contract held by the in-memory fake (the runtime's S3 adapter runs the
same suite in tests/integration/test_cleanup_ports.py)."""

from datetime import UTC, datetime

import pytest

from tests.support.contracts.cleanup import CleanupStorageContract, OpenUpload
from tests.support.contracts.completion_storage import Put
from tests.support.fakes.cleanup_storage import FakeObjectStore


class TestFakeObjectStore(CleanupStorageContract):
    @pytest.fixture
    def storage(self) -> FakeObjectStore:
        return FakeObjectStore(page_size=1)  # every listing pages

    @pytest.fixture
    def put(self, storage: FakeObjectStore) -> Put:
        async def put(bucket: str, key: str, data: bytes) -> None:
            storage.put(bucket, key, datetime.now(UTC), size=len(data))

        return put

    @pytest.fixture
    def open_upload(self, storage: FakeObjectStore) -> OpenUpload:
        async def open_upload(bucket: str, key: str) -> str:
            upload_id = f"upload-{len(storage.aborted)}-{key}"
            storage.open_upload(bucket, key, upload_id, datetime.now(UTC))
            return upload_id

        return open_upload
