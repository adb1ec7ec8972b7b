"""The SessionStorage port over S3: the only place the initiation service calls the store."""

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final
from uuid import UUID

from intake_contracts.integrity import ChecksumAlgorithm
from intake_contracts.sessions import UploadedPart, UploadType
from intake_initiation import integrity
from intake_initiation.domain import Session
from intake_runtime.storage.s3 import ObjectStore

# Sessions whose parts listing is remembered at once; the oldest is forgotten first.
_LISTINGS_KEPT: Final = 10_000


class S3SessionStorage:
    """`parts_cache_s`: how long a session's parts listing (ListParts, every page) answers a
    `resume` again. A remembered listing can only miss parts uploaded since, never name one
    that is gone (parts leave only with the whole upload, when the session is over), so a
    resuming client at worst sends a part again."""

    def __init__(
        self,
        store: ObjectStore,
        parts_cache_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._parts_cache_s = parts_cache_s
        self._clock = clock
        self._listings: OrderedDict[UUID, tuple[float, list[UploadedPart]]] = OrderedDict()

    async def open(self, session: Session) -> str | None:
        await self._store.ensure_bucket(session.bucket)
        if session.upload_type != UploadType.MULTIPART:
            return None
        algorithm, kind = integrity.multipart_checksum(session.checksum_algorithm) or (None, None)
        upload = await self._store.create_multipart(
            session.bucket,
            session.temp_key,
            session.mime_type,
            checksum_algorithm=algorithm,
            checksum_type=kind,
        )
        return upload.upload_id

    async def presign_part(
        self,
        session: Session,
        part_number: int,
        content_length: int,
        expires_s: int,
        checksum: str | None = None,
    ) -> str:
        if session.multipart_upload_id is None:
            raise ValueError("only a multipart session has parts to sign")
        return await self._store.presign_part(
            session.bucket,
            session.temp_key,
            session.multipart_upload_id,
            part_number,
            content_length=content_length,
            expires_s=expires_s,
            checksum=_signed(session.checksum_algorithm, checksum),
        )

    async def presign_put(self, session: Session, expires_s: int) -> str:
        return await self._store.presign_put(
            session.bucket,
            session.temp_key,
            content_type=session.mime_type,
            content_length=session.size_bytes,
            expires_s=expires_s,
            checksum=_signed(session.checksum_algorithm, session.checksum),
        )

    async def uploaded_parts(self, session: Session) -> list[UploadedPart]:
        if session.multipart_upload_id is None:
            return []
        now = self._clock()
        remembered = self._listings.get(session.id)
        if remembered is not None and now - remembered[0] < self._parts_cache_s:
            return remembered[1]
        stored = await self._store.list_parts(
            session.bucket, session.temp_key, session.multipart_upload_id
        )
        parts = [UploadedPart(part_number=p.part_number, size=p.size, etag=p.etag) for p in stored]
        if self._parts_cache_s > 0:
            self._listings[session.id] = (now, parts)
            self._listings.move_to_end(session.id)
            if len(self._listings) > _LISTINGS_KEPT:
                self._listings.popitem(last=False)
        return parts

    async def abort_upload(self, session: Session) -> None:
        self._listings.pop(session.id, None)
        if session.multipart_upload_id is not None:
            await self._store.abort_multipart(
                session.bucket, session.temp_key, session.multipart_upload_id
            )

    async def remove_residue(self, session: Session) -> None:
        await self.abort_upload(session)
        await self._store.delete(session.bucket, session.temp_key)


def _signed(algorithm: ChecksumAlgorithm | None, checksum: str | None) -> tuple[str, str] | None:
    return (algorithm.value, checksum) if algorithm and checksum else None
