"""The S3 work of a completion: finalize the upload, verify its bytes, copy the object."""

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from intake_completion import domain, integrity, saga
from intake_completion.domain import Asset, CheckedObject, TempObjectChangedError
from intake_contracts import media_types
from intake_contracts.commands import CompletedPart
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.sessions import SessionRecord, UploadType
from intake_runtime.storage.s3 import (
    ChecksumRejectedError,
    ObjectNotFoundError,
    ObjectStore,
    PartsRejectedError,
    PreconditionFailedError,
    UploadNotFoundError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CopyPlan:
    """How promotion copies: one copy up to `threshold`, else parts copied side by side."""

    threshold: int
    part_size: int
    concurrency: int
    # Write the permanent key with If-None-Match: * (AWS S3 and SeaweedFS >= 4 honour it).
    no_overwrite: bool = True


class S3CompletionStorage:
    """The CompletionStorage port (ports.py) over the typed S3 adapter."""

    def __init__(self, store: ObjectStore, copy: CopyPlan) -> None:
        self._store = store
        self._copy = copy

    async def finalize(
        self, session: SessionRecord, parts: Sequence[CompletedPart] | None
    ) -> CheckedObject:
        """Make the upload one object at the temp key whose size is the declared size and
        whose checksum S3 keeps in the declared algorithm is the declared one (a COMPOSITE
        one is not comparable: `verify_checksum` checks the declared SHA-256).

        Raises:
            DomainError: upload_incomplete, parts_invalid, size_mismatch, checksum_required,
                checksum_invalid or checksum_mismatch.
        """
        if session.upload_type == UploadType.MULTIPART:
            await self._complete_multipart(session, parts)
        return await self.look(session)

    async def look(self, session: SessionRecord) -> CheckedObject:
        """The finalized object at the temp key, checked as `finalize` checks it.

        Raises:
            DomainError: upload_incomplete, size_mismatch or checksum_mismatch.
        """
        algorithm = session.checksum_algorithm
        head = await self._store.head(
            session.bucket, session.temp_key, checksums=algorithm is not None
        )
        if head is None:
            raise DomainError(ErrorCode.UPLOAD_INCOMPLETE, "no uploaded object was found")
        domain.check_size(head.size, session.size_bytes)
        stored = head.checksums.get(algorithm.value) if algorithm else None
        checksum = integrity.checked_checksum(
            algorithm, session.checksum, stored, head.checksum_type
        )
        return CheckedObject(head.etag, algorithm, checksum)

    async def _complete_multipart(
        self, session: SessionRecord, requested: Sequence[CompletedPart] | None
    ) -> None:
        upload_id = session.multipart_upload_id
        if upload_id is None or session.part_count is None:
            raise DomainError(ErrorCode.UPLOAD_INCOMPLETE, "the multipart upload was never opened")
        algorithm = session.checksum_algorithm
        try:
            stored = await self._store.list_parts(session.bucket, session.temp_key, upload_id)
            uploaded = [
                domain.UploadedPart(
                    p.part_number,
                    p.size,
                    p.etag,
                    p.checksums.get(algorithm.value) if algorithm else None,
                )
                for p in stored
            ]
            chosen = domain.parts_to_complete(
                uploaded, requested, session.part_count, session.size_bytes
            )
            checksums = integrity.part_checksums(algorithm, uploaded, requested, session.part_count)
            await self._store.complete_multipart(
                session.bucket,
                session.temp_key,
                upload_id,
                chosen,
                checksums=(algorithm.value, checksums) if algorithm and checksums else None,
            )
        except PartsRejectedError as error:
            # A refusal our own checks could not foresee (e.g. a re-uploaded part).
            raise DomainError(
                ErrorCode.PARTS_INVALID, f"S3 refused the parts: {error.code}"
            ) from error
        except ChecksumRejectedError as error:
            # The part list names a checksum S3 did not keep for that part: the list is
            # wrong (the bytes were checked as they arrived), like a stale ETag; the upload
            # stays open for a retry with the right ones.
            raise DomainError(
                ErrorCode.PARTS_INVALID,
                f"S3 refused the parts' checksums ({error.code}): send each part's checksum"
                " as its part URL signed it",
            ) from error
        except UploadNotFoundError:
            # An earlier attempt completed it (the object then exists) or it was aborted: the
            # HEAD that follows tells which.
            log.info("multipart upload already gone", extra={"upload_id": upload_id})

    async def verify_checksum(self, session: SessionRecord, declared_sha256: str) -> None:
        """Compare the object's SHA-256 with the declared one: the digest S3 stored with the
        object when it has a full-object one, else the object read back once.

        Raises:
            DomainError: checksum_mismatch.
        """
        head = await self._store.head(session.bucket, session.temp_key, checksums=True)
        stored = saga.stored_sha256(head.checksum_sha256, head.checksum_type) if head else None
        if stored is None:
            stored = await self._read_sha256(session.bucket, session.temp_key)
        integrity.check_checksum(stored, declared_sha256)

    async def _read_sha256(self, bucket: str, key: str) -> str:
        digest = hashlib.sha256()
        async for chunk in await self._store.stream(bucket, key):
            # hashlib releases the GIL on large buffers: a thread keeps the loop responsive.
            await asyncio.to_thread(digest.update, chunk)
        return digest.hexdigest()

    async def copy_to_permanent(self, asset: Asset, target: str) -> None:
        """Server-side copy of the Asset's temp object to `target`; safe to repeat.

        A copy that already landed (a crash before the Asset was updated) is not made again;
        a multipart copy a crash interrupted is aborted before a new one starts.

        Raises:
            DomainError: upload_incomplete when neither the temp nor the target object exists.
        """
        if asset.size_bytes <= self._copy.threshold:
            await self._copy_once(asset, target)
            return
        landed = await self._store.head(asset.bucket, target)
        if landed is not None:  # never overwritten: only a checked copy ever writes there
            return
        source = await self._store.head(asset.bucket, asset.object_key)
        if source is None:
            raise DomainError(
                ErrorCode.UPLOAD_INCOMPLETE, "the completed upload's object is missing"
            )
        if asset.etag is not None and source.etag != asset.etag:
            raise TempObjectChangedError(source.etag)
        await self._store.abort_uploads_of(asset.bucket, target)
        try:
            await self._copy_checked(asset, target)
        except PreconditionFailedError:
            await self._refused(asset, target)

    async def _copy_checked(self, asset: Asset, target: str) -> None:
        """A server-side copy of the checked bytes only (CopySourceIfMatch on the Asset's ETag)
        that never writes over an object at `target` (If-None-Match: *), served with the
        disposition its type calls for; multipart above the copy threshold."""
        await self._store.copy(
            asset.bucket,
            asset.object_key,
            target,
            asset.size_bytes,
            self._copy.threshold,
            content_type=asset.mime_type,
            content_disposition=media_types.content_disposition(asset.mime_type),
            part_size=min(self._copy.part_size, self._copy.threshold),
            concurrency=self._copy.concurrency,
            if_match=asset.etag,
            if_none_match=self._copy.no_overwrite,
        )

    async def _copy_once(self, asset: Asset, target: str) -> None:
        """One CopyObject, with no look first: repeating it writes the same bytes again and it
        starts no multipart upload, so neither a HEAD of the target nor an abort of stale
        uploads is needed. Only a missing source needs telling apart, after the fact: the copy
        may have landed before a crash and the temp object been deleted since (three S3 calls
        fewer per small promotion: the promotion was most of completion's CPU per complete)."""
        try:
            await self._copy_checked(asset, target)
        except ObjectNotFoundError:
            landed = await self._store.head(asset.bucket, target)
            if landed is None or landed.size != asset.size_bytes:
                raise DomainError(
                    ErrorCode.UPLOAD_INCOMPLETE, "the completed upload's object is missing"
                ) from None
        except PreconditionFailedError:
            await self._refused(asset, target)

    async def _refused(self, asset: Asset, target: str) -> None:
        """After a 412: an object at `target` is an earlier checked copy (done, untouched);
        otherwise the temp object is no longer the checked one.

        Raises:
            TempObjectChangedError: nothing at `target`, and the temp object changed.
        """
        if await self._store.head(asset.bucket, target) is not None:
            return
        source = await self._store.head(asset.bucket, asset.object_key)
        raise TempObjectChangedError(source.etag if source else None)

    async def delete(self, bucket: str, key: str) -> None:
        await self._store.delete(bucket, key)
