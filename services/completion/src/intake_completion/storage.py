"""The S3 work of a completion: finalize the upload, verify its bytes, promote the object."""

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from uuid import UUID

from botocore.exceptions import ClientError

from intake_completion import domain
from intake_contracts import keys
from intake_contracts.commands import CompletedPart
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.sessions import SessionRecord, UploadType
from intake_runtime.storage.s3 import ObjectStore, error_code

log = logging.getLogger(__name__)

_UPLOAD_GONE = frozenset({"NoSuchUpload", "404"})
# S3's refusals of a part list that our own checks could not foresee (e.g. a re-uploaded part).
_PARTS_REFUSED = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})


class CompletionStorage:
    def __init__(self, store: ObjectStore, copy_threshold: int) -> None:
        self._store = store
        self._copy_threshold = copy_threshold

    async def finalize(self, session: SessionRecord, parts: Sequence[CompletedPart] | None) -> None:
        """Make the upload one object at the temp key whose size is the declared size.

        Raises:
            DomainError: upload_incomplete, parts_invalid or size_mismatch.
        """
        if session.upload_type == UploadType.MULTIPART:
            await self._complete_multipart(session, parts)
        head = await self._store.head(session.bucket, session.temp_key)
        if head is None:
            raise DomainError(ErrorCode.UPLOAD_INCOMPLETE, "no uploaded object was found")
        domain.check_size(int(head["ContentLength"]), session.size_bytes)

    async def _complete_multipart(
        self, session: SessionRecord, requested: Sequence[CompletedPart] | None
    ) -> None:
        upload_id = session.multipart_upload_id
        if upload_id is None or session.part_count is None:
            raise DomainError(ErrorCode.UPLOAD_INCOMPLETE, "the multipart upload was never opened")
        try:
            stored = await self._store.list_parts(session.bucket, session.temp_key, upload_id)
            uploaded = [domain.UploadedPart(p.part_number, p.size, p.etag) for p in stored]
            chosen = domain.parts_to_complete(
                uploaded, requested, session.part_count, session.size_bytes
            )
            await self._store.complete_multipart(
                session.bucket, session.temp_key, upload_id, chosen
            )
        except ClientError as error:
            code = error_code(error)
            if code in _PARTS_REFUSED:
                raise DomainError(
                    ErrorCode.PARTS_INVALID, f"S3 refused the parts: {code}"
                ) from error
            if code not in _UPLOAD_GONE:
                raise
            # An earlier attempt completed it (the object then exists) or it was aborted: the
            # HEAD that follows tells which.
            log.info("multipart upload already gone", extra={"upload_id": upload_id})

    async def verify_checksum(self, session: SessionRecord, declared_sha256: str) -> None:
        """Stream the object once and compare its SHA-256 with the declared one.

        Raises:
            DomainError: checksum_mismatch.
        """
        digest = hashlib.sha256()
        async for chunk in await self._store.stream(session.bucket, session.temp_key):
            # hashlib releases the GIL on large buffers: a thread keeps the loop responsive.
            await asyncio.to_thread(digest.update, chunk)
        domain.check_checksum(digest.hexdigest(), declared_sha256)

    async def promote(self, session: SessionRecord, asset_id: UUID) -> str:
        """Move the object to its permanent key; safe to repeat after a crash at any step.

        Returns:
            The permanent key.

        Raises:
            DomainError: upload_incomplete when neither the temp nor the permanent object exists.
        """
        target = keys.asset_key(session.tenant_id, asset_id)
        if await self._store.head(session.bucket, session.temp_key) is not None:
            await self._store.copy(
                session.bucket,
                session.temp_key,
                target,
                session.size_bytes,
                self._copy_threshold,
                content_type=session.mime_type,
            )
            await self._store.delete(session.bucket, session.temp_key)
        elif await self._store.head(session.bucket, target) is None:
            raise DomainError(
                ErrorCode.UPLOAD_INCOMPLETE, "the completed upload's object is missing"
            )
        return target
