"""The UploadSession as other parts see it: statuses and the session view of the HTTP API."""

from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from intake_contracts.integrity import ChecksumAlgorithm


class UploadStatus(StrEnum):
    INITIATING = "INITIATING"
    UPLOADING = "UPLOADING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL_STATUSES = frozenset({UploadStatus.COMPLETED, UploadStatus.FAILED, UploadStatus.CANCELLED})
LIVE_STATUSES = frozenset(UploadStatus) - TERMINAL_STATUSES


def sql_list(statuses: frozenset[UploadStatus]) -> str:
    """`statuses` as an SQL list literal in declaration order (`('COMPLETED', 'FAILED', ...)`):
    the one spelling of a status set in the services' SQL, so a query names the same list as
    the partial index it relies on. Values are the enum's own, never input."""
    named = (f"'{status.value}'" for status in UploadStatus if status in statuses)
    return f"({', '.join(named)})"


class UploadType(StrEnum):
    DIRECT = "direct"
    MULTIPART = "multipart"


class DirectUpload(BaseModel):
    url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]
    expires_at: datetime


class MultipartInfo(BaseModel):
    upload_id: str
    chunk_size: int
    part_count: int


class SessionView(BaseModel):
    upload_session_id: UUID
    status: UploadStatus
    upload_type: UploadType
    file_name: str
    file_size: int
    mime_type: str
    brand_id: str
    client_reference: str | None
    batch_reference: str | None
    expires_at: datetime
    created_at: datetime
    direct: DirectUpload | None
    multipart: MultipartInfo | None
    asset_id: UUID | None
    checksum_algorithm: ChecksumAlgorithm | None = None


class PartUrl(BaseModel):
    part_number: int
    url: str
    method: Literal["PUT"] = "PUT"
    # Headers the PUT must carry as signed (the part's checksum when the session declared an
    # algorithm); empty otherwise.
    headers: dict[str, str] = {}
    expires_at: datetime


class PartUrls(BaseModel):
    parts: list[PartUrl]


class UploadedPart(BaseModel):
    part_number: int
    size: int
    etag: str


class ResumeView(BaseModel):
    upload_session_id: UUID
    status: UploadStatus
    upload_type: UploadType
    can_resume: bool
    expires_at: datetime
    chunk_size: int | None
    part_count: int | None
    multipart_upload_id: str | None
    uploaded_parts: list[UploadedPart]
    uploaded_bytes: int
    direct: DirectUpload | None = None


class ActivityView(BaseModel):
    upload_session_id: UUID
    status: UploadStatus
    last_activity_at: datetime


class StatusView(BaseModel):
    upload_session_id: UUID
    status: UploadStatus


class SessionRecord(BaseModel):
    """The full session that initiation shares with completion and cleanup."""

    upload_session_id: UUID
    tenant_id: str
    brand_id: str
    user_id: str
    status: UploadStatus
    upload_type: UploadType
    file_name: str
    mime_type: str
    size_bytes: int
    chunk_size: int | None
    part_count: int | None
    bucket: str
    temp_key: str
    multipart_upload_id: str | None
    checksum_sha256: str | None
    checksum_algorithm: ChecksumAlgorithm | None = None
    checksum: str | None = None  # the declared whole-file checksum, base64
    expires_at: datetime
    last_activity_at: datetime
    created_at: datetime
    asset_id: UUID | None
    failure_reason: str | None
