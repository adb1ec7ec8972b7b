"""The presigned URLs a session hands its client: one per part of a multipart upload, or the
single PUT of a direct one, each with the headers the client must send and never outliving
the session."""

from datetime import datetime

from intake_contracts.sessions import DirectUpload, PartUrl, PartUrls, UploadType
from intake_initiation import domain, integrity
from intake_initiation.domain import Session
from intake_initiation.ports import SessionStorage


class SessionUrls:
    def __init__(self, storage: SessionStorage, url_ttl_s: int) -> None:
        self._storage = storage
        self._url_ttl_s = url_ttl_s

    async def parts(
        self, session: Session, numbers: list[int], checksums: list[str | None], now: datetime
    ) -> PartUrls:
        """A URL for each part number of a live multipart session, each signing the part's
        exact size and, where the client gave one, its checksum."""
        assert session.chunk_size is not None  # noqa: S101 - a live multipart session has it
        expires_at, expires_s = self._expiry(session, now)
        parts = [
            PartUrl(
                part_number=number,
                url=await self._storage.presign_part(
                    session,
                    number,
                    content_length=domain.part_size(number, session.size_bytes, session.chunk_size),
                    expires_s=expires_s,
                    checksum=checksum,
                ),
                headers=integrity.signed_headers(session.checksum_algorithm, checksum),
                expires_at=expires_at,
            )
            for number, checksum in zip(numbers, checksums, strict=True)
        ]
        return PartUrls(parts=parts)

    async def direct_upload(self, session: Session, now: datetime) -> DirectUpload | None:
        """A fresh presigned PUT while the direct session can still take its bytes."""
        if session.upload_type != UploadType.DIRECT or not domain.can_resume(
            session.status, session.expires_at, now
        ):
            return None
        expires_at, expires_s = self._expiry(session, now)
        headers = {
            "Content-Type": session.mime_type,
            "Content-Length": str(session.size_bytes),
            **integrity.signed_headers(session.checksum_algorithm, session.checksum),
        }
        url = await self._storage.presign_put(session, expires_s=expires_s)
        return DirectUpload(url=url, headers=headers, expires_at=expires_at)

    def _expiry(self, session: Session, now: datetime) -> tuple[datetime, int]:
        """When the URLs expire, and in how many seconds (at least one)."""
        expires_at = domain.url_expiry(now, self._url_ttl_s, session.expires_at)
        return expires_at, max(1, int((expires_at - now).total_seconds()))
