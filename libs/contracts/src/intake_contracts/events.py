"""Lifecycle events published through each service's outbox, for audit and any subscriber."""

from datetime import datetime
from enum import StrEnum
from typing import Final
from uuid import UUID

from pydantic import BaseModel

from intake_contracts import topics
from intake_contracts.commands import AssetFields
from intake_contracts.sessions import UploadStatus, UploadType


class EventType(StrEnum):
    UPLOAD_INITIATED = "upload.initiated"
    UPLOAD_UPLOADING = "upload.uploading"
    UPLOAD_COMPLETED = "upload.completed"
    UPLOAD_FAILED = "upload.failed"
    UPLOAD_CANCELLED = "upload.cancelled"
    ASSET_CREATED = "asset.created"
    ASSET_PROMOTED = "asset.promoted"
    ASSET_INTEGRITY_FAILED = "asset.integrity_failed"
    CLEANUP_RUN_COMPLETED = "cleanup.run_completed"
    CLEANUP_RESIDUE_REMOVED = "cleanup.residue_removed"


STATUS_EVENT: Final = {
    UploadStatus.INITIATING: EventType.UPLOAD_INITIATED,
    UploadStatus.UPLOADING: EventType.UPLOAD_UPLOADING,
    UploadStatus.COMPLETED: EventType.UPLOAD_COMPLETED,
    UploadStatus.FAILED: EventType.UPLOAD_FAILED,
    UploadStatus.CANCELLED: EventType.UPLOAD_CANCELLED,
}


class UploadLifecycleEvent(BaseModel):
    """A session changed status; carries what a subscriber needs without asking back."""

    upload_session_id: UUID
    tenant_id: str
    brand_id: str
    user_id: str
    status: UploadStatus
    previous_status: UploadStatus | None
    upload_type: UploadType
    file_name: str
    size_bytes: int
    bucket: str
    temp_key: str
    multipart_upload_id: str | None
    expires_at: datetime
    asset_id: UUID | None = None
    reason: str | None = None


# No docstring: it would become the published schema's description.
class AssetCreated(AssetFields):
    pass


class AssetPromoted(BaseModel):
    """The Asset's bytes moved from the temp key to their permanent key; emitted once per Asset.

    `asset.created` names the key the bytes were at when the Asset was recorded (the temp key
    since promotion runs after `complete` answered); this event tells subscribers where they are
    now. The temp object is deleted after this event.
    """

    asset_id: UUID
    upload_session_id: UUID
    tenant_id: str
    bucket: str
    object_key: str
    previous_key: str
    size_bytes: int
    promoted_at: datetime


class AssetIntegrityFailed(BaseModel):
    """The Asset's temp object is no longer the object complete checked (its ETag changed, or
    it is gone): it was not promoted and never will be; the permanent key was not written.

    `found_etag` is the temp object's ETag when promotion looked, None when there was none.
    """

    asset_id: UUID
    upload_session_id: UUID
    tenant_id: str
    bucket: str
    object_key: str
    expected_etag: str
    found_etag: str | None
    failed_at: datetime


class CleanupRunCompleted(BaseModel):
    run_id: UUID
    job: str
    status: str
    started_at: datetime
    finished_at: datetime
    stats: dict[str, int]
    errors: list[str]


class ResidueRemoved(BaseModel):
    """Cleanup removed an S3 leftover: an aborted multipart upload or a deleted object."""

    job: str
    action: str
    bucket: str
    key: str
    upload_id: str | None
    upload_session_id: UUID | None
    tenant_id: str | None
    reason: str


EVENT_MODELS: Final[dict[EventType, tuple[type[BaseModel], str]]] = {
    **dict.fromkeys(STATUS_EVENT.values(), (UploadLifecycleEvent, topics.UPLOAD_EVENTS)),
    EventType.ASSET_CREATED: (AssetCreated, topics.ASSET_EVENTS),
    EventType.ASSET_PROMOTED: (AssetPromoted, topics.ASSET_EVENTS),
    EventType.ASSET_INTEGRITY_FAILED: (AssetIntegrityFailed, topics.ASSET_EVENTS),
    EventType.CLEANUP_RUN_COMPLETED: (CleanupRunCompleted, topics.CLEANUP_EVENTS),
    EventType.CLEANUP_RESIDUE_REMOVED: (ResidueRemoved, topics.CLEANUP_EVENTS),
}
