"""Completion's fake storage: temp objects, multipart parts and promotion, with failures on cue."""

import base64
import hashlib
from collections.abc import Sequence

from intake_completion import domain as completion_domain
from intake_completion import integrity as completion_integrity
from intake_completion.domain import Asset
from intake_contracts.commands import (
    CompletedPart,
)
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.integrity import ChecksumAlgorithm
from intake_contracts.sessions import (
    SessionRecord,
    UploadType,
)
from tests.support.fakes.runtime import Failure, raise_failure


def _etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _sha256_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class FakeCompletionStorage:
    """Completion's CompletionStorage over a dict of objects and open multipart uploads.

    `broken` names operations that fail on their next call (once), to stand in for S3 failing
    (or the process dying) at that point: an error to raise, or a function that raises.
    """

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.uploads: dict[str, dict[int, bytes]] = {}
        self.composites: dict[tuple[str, str], str] = {}  # S3's COMPOSITE checksum, by object
        self.broken: dict[str, Failure] = {}
        self.calls: list[str] = []

    def _call(self, operation: str) -> None:
        self.calls.append(operation)
        raise_failure(self.broken.pop(operation, None))

    async def finalize(
        self, session: SessionRecord, parts: Sequence[CompletedPart] | None
    ) -> completion_domain.CheckedObject:
        self._call("finalize")
        if session.upload_type == UploadType.MULTIPART:
            self._complete_multipart(session, parts)
        return await self.look(session)

    async def look(self, session: SessionRecord) -> completion_domain.CheckedObject:
        self._call("look")
        stored = self.objects.get((session.bucket, session.temp_key))
        if stored is None:
            raise DomainError(ErrorCode.UPLOAD_INCOMPLETE, "no uploaded object was found")
        completion_domain.check_size(len(stored), session.size_bytes)
        algorithm = session.checksum_algorithm
        # S3 keeps a checksum of a direct upload that signed one, a COMPOSITE one of a SHA256
        # multipart upload (and a FULL_OBJECT one of a CRC multipart upload); the fake
        # computes SHA256 only.
        composite = self.composites.get((session.bucket, session.temp_key))
        kept = (
            _sha256_base64(stored)
            if algorithm == ChecksumAlgorithm.SHA256 and session.upload_type == UploadType.DIRECT
            else composite
        )
        checksum = completion_integrity.checked_checksum(
            algorithm, session.checksum, kept, "COMPOSITE" if composite else None
        )
        return completion_domain.CheckedObject(_etag(stored), algorithm, checksum)

    def _complete_multipart(
        self, session: SessionRecord, requested: Sequence[CompletedPart] | None
    ) -> None:
        upload_id = session.multipart_upload_id
        if upload_id is None or session.part_count is None:
            raise DomainError(ErrorCode.UPLOAD_INCOMPLETE, "the multipart upload was never opened")
        stored = self.uploads.get(upload_id)
        if stored is None:  # completed by an earlier attempt, or aborted
            return
        uploaded = [
            completion_domain.UploadedPart(number, len(data), _etag(data))
            for number, data in stored.items()
        ]
        chosen = completion_domain.parts_to_complete(
            uploaded, requested, session.part_count, session.size_bytes
        )
        algorithm = session.checksum_algorithm
        # Like SeaweedFS, the fake's ListParts names no part checksums.
        checksums = completion_integrity.part_checksums(
            algorithm, uploaded, requested, session.part_count
        )
        key = (session.bucket, session.temp_key)
        if algorithm == ChecksumAlgorithm.SHA256:  # a COMPOSITE upload
            digests = [hashlib.sha256(stored[number]).digest() for number, _ in chosen]
            if any(
                base64.b64decode(checksums[number]) != digest
                for (number, _), digest in zip(chosen, digests, strict=True)
            ):  # S3's BadDigest, the upload left open
                raise DomainError(ErrorCode.PARTS_INVALID, "S3 refused the parts' checksums")
            composite = _sha256_base64(b"".join(digests))
            self.composites[key] = f"{composite}-{len(chosen)}"
        self.objects[key] = b"".join(stored[number] for number, _ in chosen)
        del self.uploads[upload_id]

    async def verify_checksum(self, session: SessionRecord, declared_sha256: str) -> None:
        self._call("verify_checksum")
        body = self.objects.get((session.bucket, session.temp_key), b"")
        completion_integrity.check_checksum(hashlib.sha256(body).hexdigest(), declared_sha256)

    async def copy_to_permanent(self, asset: Asset, target: str) -> None:
        self._call("copy_to_permanent")
        if (asset.bucket, target) in self.objects:  # never overwritten (If-None-Match: *)
            return
        source = self.objects.get((asset.bucket, asset.object_key))
        if source is None:
            raise DomainError(
                ErrorCode.UPLOAD_INCOMPLETE, "the completed upload's object is missing"
            )
        if asset.etag is not None and _etag(source) != asset.etag:  # CopySourceIfMatch
            raise completion_domain.TempObjectChangedError(_etag(source))
        self.objects[asset.bucket, target] = source

    async def delete(self, bucket: str, key: str) -> None:
        self._call("delete")
        self.objects.pop((bucket, key), None)
