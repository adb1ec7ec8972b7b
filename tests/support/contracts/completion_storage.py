"""Completion's contract suite for its storage."""

import hashlib
import os
from collections.abc import Awaitable, Callable

import pytest

from intake_completion.domain import Asset, TempObjectChangedError
from intake_completion.ports import CompletionStorage
from intake_contracts import keys
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.integrity import ChecksumAlgorithm
from tests.support.contracts.completion import new_asset, new_record

Put = Callable[[str, str, bytes], Awaitable[None]]


Exists = Callable[[str, str], Awaitable[bool]]


Read = Callable[[str, str], Awaitable[bytes]]


class CompletionStorageContract:
    """What the completion saga relies on from any CompletionStorage. `put` writes an object
    as a client's upload would; `exists` looks. `bucket` is the suite's own: tests/unit/conftest.py's on fakes, the stack's on S3."""

    async def test_a_direct_upload_of_the_declared_size_is_final(
        self, storage: CompletionStorage, put: Put, bucket: str
    ) -> None:
        data = b"hello"
        session = new_record(data, bucket=bucket, checksum=hashlib.sha256(data).hexdigest())
        await put(bucket, session.temp_key, data)
        await storage.finalize(session, None)
        await storage.verify_checksum(session, hashlib.sha256(data).hexdigest())
        with pytest.raises(DomainError) as refused:
            await storage.verify_checksum(session, hashlib.sha256(b"other").hexdigest())
        assert refused.value.code == ErrorCode.CHECKSUM_MISMATCH

    async def test_a_missing_or_mis_sized_object_is_refused(
        self, storage: CompletionStorage, put: Put, bucket: str
    ) -> None:
        session = new_record(b"hello", bucket=bucket)
        with pytest.raises(DomainError) as missing:
            await storage.finalize(session, None)
        assert missing.value.code == ErrorCode.UPLOAD_INCOMPLETE
        await put(bucket, session.temp_key, b"hell")
        with pytest.raises(DomainError) as short:
            await storage.finalize(session, None)
        assert short.value.code == ErrorCode.SIZE_MISMATCH

    async def test_a_copy_to_the_permanent_key_is_safe_to_repeat(
        self, storage: CompletionStorage, put: Put, exists: Exists, bucket: str
    ) -> None:
        asset = new_asset(bucket=bucket)
        target = keys.asset_key(asset.tenant_id, asset.asset_id)
        with pytest.raises(DomainError) as missing:
            await storage.copy_to_permanent(asset, target)
        assert missing.value.code == ErrorCode.UPLOAD_INCOMPLETE
        await put(bucket, asset.object_key, b"hello")
        await storage.copy_to_permanent(asset, target)
        assert await exists(bucket, target)
        await storage.delete(bucket, asset.object_key)
        assert not await exists(bucket, asset.object_key)
        await storage.delete(bucket, asset.object_key)  # gone already: no error
        await storage.copy_to_permanent(asset, target)  # landed: the temp one is not needed
        await storage.delete(bucket, target)

    @pytest.fixture
    def size(self) -> int:
        """Bytes of the objects promoted below (a class may exercise the multipart copy)."""
        return 5

    async def _completed(
        self, storage: CompletionStorage, put: Put, bucket: str, data: bytes
    ) -> tuple[Asset, str]:
        """An Asset of `data` as complete records it (its checked ETag), and its target."""
        session = new_record(data, bucket=bucket, algorithm=ChecksumAlgorithm.SHA256)
        await put(bucket, session.temp_key, data)
        checked = await storage.finalize(session, None)
        assert checked.etag == hashlib.md5(data, usedforsecurity=False).hexdigest()
        assert (checked.checksum_algorithm, checked.checksum) == (
            ChecksumAlgorithm.SHA256,
            session.checksum,
        )
        asset = new_asset(session.upload_session_id, bucket=bucket, size=len(data))
        asset = asset.model_copy(update={"etag": checked.etag, "tenant_id": session.tenant_id})
        return asset, keys.asset_key(asset.tenant_id, asset.asset_id)

    async def test_a_temp_object_changed_after_complete_is_never_promoted(
        self, storage: CompletionStorage, put: Put, exists: Exists, bucket: str, size: int
    ) -> None:
        data = os.urandom(size)
        asset, target = await self._completed(storage, put, bucket, data)
        await put(bucket, asset.object_key, os.urandom(size))  # same length, other bytes
        with pytest.raises(TempObjectChangedError) as changed:
            await storage.copy_to_permanent(asset, target)
        assert changed.value.found_etag not in {None, asset.etag}
        assert not await exists(bucket, target)
        await storage.delete(bucket, asset.object_key)

    async def test_a_second_promotion_never_replaces_the_permanent_object(
        self, storage: CompletionStorage, put: Put, read: Read, bucket: str, size: int
    ) -> None:
        data = os.urandom(size)
        asset, target = await self._completed(storage, put, bucket, data)
        await storage.copy_to_permanent(asset, target)
        await storage.copy_to_permanent(asset, target)  # a retry after a crash: done already
        await put(bucket, asset.object_key, os.urandom(size))
        await storage.copy_to_permanent(asset, target)
        assert await read(bucket, target) == data
        await storage.delete(bucket, asset.object_key)
        await storage.delete(bucket, target)
