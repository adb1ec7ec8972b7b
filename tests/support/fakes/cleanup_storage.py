"""Cleanup's fake object store: objects and unfinished multipart uploads."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from intake_runtime.storage.s3 import (
    DELETE_BATCH,
    DeleteFailure,
    MultipartUpload,
    StorageError,
    StoredObject,
    StoredPart,
    UploadNotFoundError,
)


@dataclass
class _Upload:
    upload: MultipartUpload
    parts: list[StoredPart] = field(default_factory=list)


class FakeObjectStore:
    """Cleanup's CleanupStorage over dicts, listing in pages of `page_size` as S3 does.

    `failing_keys` refuse deletes and aborts with a StorageError; `sticky_uploads` survive an
    abort (S3 answered, but the upload is still listed with its parts)."""

    def __init__(self, page_size: int = 1000) -> None:
        self.page_size = page_size
        self.objects: dict[str, dict[str, StoredObject]] = {}
        self.uploads: dict[str, dict[str, _Upload]] = {}
        self.failing_keys: set[str] = set()
        self.sticky_uploads: set[str] = set()
        self.deleted: list[tuple[str, str]] = []
        self.aborted: list[tuple[str, str]] = []
        # DeleteObjects requests delete_many made (up to 1,000 keys each).
        self.delete_requests = 0

    def put(self, bucket: str, key: str, at: datetime, size: int = 5) -> None:
        self.objects.setdefault(bucket, {})[key] = StoredObject(key, size, at)

    def open_upload(self, bucket: str, key: str, upload_id: str, at: datetime) -> None:
        self.uploads.setdefault(bucket, {})[upload_id] = _Upload(
            MultipartUpload(key, upload_id, at), [StoredPart(1, 5, "e")]
        )

    def _check(self, key: str) -> None:
        if key in self.failing_keys:
            raise StorageError("AccessDenied", f"S3 refused {key}")

    async def list_buckets(self, prefix: str = "") -> list[str]:
        return sorted(b for b in self.objects.keys() | self.uploads.keys() if b.startswith(prefix))

    async def iter_objects(self, bucket: str, prefix: str) -> AsyncIterator[list[StoredObject]]:
        found = sorted(
            (o for o in self.objects.get(bucket, {}).values() if o.key.startswith(prefix)),
            key=lambda o: o.key,
        )
        for start in range(0, len(found), self.page_size):
            yield found[start : start + self.page_size]

    async def iter_multipart_uploads(
        self, bucket: str, prefix: str
    ) -> AsyncIterator[list[MultipartUpload]]:
        found = sorted(
            (
                u.upload
                for u in self.uploads.get(bucket, {}).values()
                if u.upload.key.startswith(prefix)
            ),
            key=lambda u: (u.key, u.upload_id),
        )
        for start in range(0, len(found), self.page_size):
            yield found[start : start + self.page_size]

    async def delete(self, bucket: str, key: str) -> None:
        self._check(key)
        self.objects.get(bucket, {}).pop(key, None)
        self.deleted.append((bucket, key))

    async def delete_many(self, bucket: str, keys: Sequence[str]) -> list[DeleteFailure]:
        self.delete_requests += -(-len(keys) // DELETE_BATCH)
        left = []
        for key in keys:
            try:
                await self.delete(bucket, key)
            except StorageError as error:
                left.append(DeleteFailure(key, error.code, str(error)))
        return left

    async def abort_multipart(self, bucket: str, key: str, upload_id: str) -> bool:
        self._check(key)
        uploads = self.uploads.get(bucket, {})
        if upload_id not in uploads:
            return False
        self.aborted.append((bucket, upload_id))
        if upload_id not in self.sticky_uploads:
            del uploads[upload_id]
        return True

    async def list_parts(self, bucket: str, key: str, upload_id: str) -> list[StoredPart]:
        found = self.uploads.get(bucket, {}).get(upload_id)
        if found is None or found.upload.key != key:
            raise UploadNotFoundError("NoSuchUpload", f"no upload {upload_id}")
        return list(found.parts)
