"""Commands (requests) each service accepts, with the result model its reply carries."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field

from intake_contracts.errors import ErrorBody
from intake_contracts.fields import (
    MAX_PARTS_PER_COMPLETE,
    Checksum,
    ETag,
    FileName,
    FileSize,
    IdempotencyKey,
    Identifier,
    MimeType,
    PartNumber,
    Reference,
    Title,
)
from intake_contracts.integrity import Base64Checksum, ChecksumAlgorithm
from intake_contracts.sessions import (
    ActivityView,
    PartUrls,
    ResumeView,
    SessionRecord,
    SessionView,
    StatusView,
)

MAX_BATCH_FILES: Final = 100
MAX_SIGNED_PARTS_PER_CALL: Final = 100
# Sessions per FailSessions command: a command of 1,000 rows stays near 100 KB, far below
# Kafka's default 1 MiB message limit.
MAX_SESSIONS_PER_FAIL: Final = 1000
MAX_PRUNE_BATCH: Final = 10_000
MAX_PROMOTING_KEYS: Final = 1000


class CommandType(StrEnum):
    INITIATE = "initiation.initiate"
    INITIATE_BATCH = "initiation.initiate_batch"
    SIGN_PARTS = "initiation.sign_parts"
    GET_SESSION = "initiation.get_session"
    RESUME = "initiation.resume"
    TOUCH_ACTIVITY = "initiation.touch_activity"
    CANCEL = "initiation.cancel"
    BEGIN_COMPLETION = "initiation.begin_completion"
    MARK_COMPLETED = "initiation.mark_completed"
    MARK_FAILED = "initiation.mark_failed"
    FAIL_SESSIONS = "initiation.fail_sessions"
    PRUNE_TERMINAL_SESSIONS = "initiation.prune_terminal_sessions"
    COMPLETE = "completion.complete"
    PRUNE_COMPLETION_RECORDS = "completion.prune_completion_records"
    PROMOTING_KEYS = "completion.promoting_keys"
    RUN_CLEANUP_JOB = "cleanup.run_job"
    GET_EVENTS = "audit.get_events"


class InitiateFields(BaseModel):
    """What a client says of one file to upload: the HTTP body and the command share it."""

    file_name: FileName
    file_size: FileSize
    mime_type: MimeType
    brand_id: Identifier
    client_reference: Reference | None = None
    category_id: Identifier | None = None
    checksum_sha256: Checksum | None = None
    # Declared: every part URL then signs its part's checksum and the direct URL the whole
    # file's (`checksum`, or `checksum_sha256` for SHA256), so S3 refuses wrong bytes.
    checksum_algorithm: ChecksumAlgorithm | None = None
    checksum: Base64Checksum | None = None


class InitiateUpload(InitiateFields):
    idempotency_key: IdempotencyKey | None = None
    batch_reference: Reference | None = None


class BatchFile(BaseModel):
    file_name: FileName
    file_size: FileSize
    mime_type: MimeType
    client_reference: Reference
    brand_id: Identifier | None = None
    checksum_sha256: Checksum | None = None
    checksum_algorithm: ChecksumAlgorithm | None = None
    checksum: Base64Checksum | None = None


class InitiateBatch(BaseModel):
    brand_id: Identifier
    batch_reference: Reference | None = None
    files: list[BatchFile] = Field(max_length=MAX_BATCH_FILES)


class BatchItem(BaseModel):
    """One file's outcome; `session` is None exactly when `error` is set."""

    client_reference: str
    session: SessionView | None = None
    error: ErrorBody | None = None


class BatchResult(BaseModel):
    batch_reference: str
    uploads: list[BatchItem]


class SessionRef(BaseModel):
    upload_session_id: UUID


class SignParts(SessionRef):
    part_numbers: list[PartNumber] = Field(min_length=1, max_length=MAX_SIGNED_PARTS_PER_CALL)
    # Aligned with part_numbers: the checksum of each part in the session's algorithm.
    checksums: list[Base64Checksum] | None = Field(
        default=None, max_length=MAX_SIGNED_PARTS_PER_CALL
    )


class MarkCompleted(SessionRef):
    asset_id: UUID


class MarkFailed(SessionRef):
    reason: str
    # Set by abandoned detection: fail only when the session has been idle since before this.
    idle_before: datetime | None = None
    # Set by expiry: fail only when the session is past its expiry at this instant.
    expired_at: datetime | None = None


class SessionOfTenant(SessionRef):
    """A session named with its tenant: a bulk command acts in many tenants, each row in its own."""

    tenant_id: str


class FailSessions(BaseModel):
    """Fail many live sessions at once, each under the same conditions as MarkFailed: cleanup's
    abandoned and expiry jobs send one per batch instead of one MarkFailed per session."""

    sessions: list[SessionOfTenant] = Field(min_length=1, max_length=MAX_SESSIONS_PER_FAIL)
    reason: str
    idle_before: datetime | None = None
    expired_at: datetime | None = None


class FailedSessions(BaseModel):
    """Which sessions this command moved to FAILED, and where the others are (still live,
    because of activity after the cutoff, or terminal already). Sessions initiation does not
    know (in that tenant) are in neither list."""

    moved: list[UUID]
    unchanged: list[StatusView]


class CompletedPart(BaseModel):
    # Unbounded here: completion answers a number outside 1..part_count with parts_invalid.
    part_number: int
    etag: ETag
    # Left out of the message when absent: a complete of 10,000 parts stays as small as before.
    checksum: Base64Checksum | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description=(
            "The part's checksum in the session's checksum_algorithm, base64 as S3 spells it"
            " (the one its part URL signed). A SHA256 multipart upload is COMPOSITE: S3 needs"
            " every part's checksum to complete it, so send them where S3 does not list them"
            " (checksum_required otherwise, and the upload stays open for a retry with them)."
        ),
    )


class CompleteUpload(SessionRef):
    title: Title | None = None
    parts: list[CompletedPart] | None = Field(default=None, max_length=MAX_PARTS_PER_COMPLETE)


class AssetFields(BaseModel):
    """An Asset as every message shows it; the view, the event and the entity extend it."""

    asset_id: UUID
    upload_session_id: UUID
    tenant_id: str
    brand_id: str
    title: str
    file_name: str
    mime_type: str
    size_bytes: int
    bucket: str
    object_key: str
    checksum_sha256: str | None
    # What complete checked: the temp object's ETag (promotion copies only that object) and
    # its checksum in the declared algorithm: S3's, or for a SHA256 multipart upload the
    # declared whole-file SHA-256 complete verified (S3's COMPOSITE `<base64>-N` when none
    # was declared).
    etag: str | None = None
    checksum_algorithm: ChecksumAlgorithm | None = None
    checksum: str | None = None


class AssetView(AssetFields):
    created_at: datetime
    # None while the bytes are still at the temp key that `object_key` names; set once they
    # were moved to the permanent key (then `object_key` names that key).
    promoted_at: datetime | None = None
    # Set when the temp object changed after complete checked it: it was never promoted.
    integrity_failed_at: datetime | None = None


class CompletionResult(BaseModel):
    asset: AssetView
    upload_session_id: UUID
    status: str = "COMPLETED"
    created: bool


class RunCleanupJob(BaseModel):
    job: str


class JobRunView(BaseModel):
    run_id: UUID | None
    job: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    stats: dict[str, int]
    errors: list[str]


class PruneOlderThan(BaseModel):
    """Prune: remove up to `limit` finished rows last changed before `older_than`, with the
    inbox and published outbox rows of the same age. Sent by cleanup only."""

    older_than: datetime
    limit: int = Field(ge=1, le=MAX_PRUNE_BATCH)


class PruneResult(BaseModel):
    """How many rows one batch removed; fewer than the limit each means nothing older is left."""

    removed: int
    inbox_removed: int
    outbox_removed: int

    def exhausted(self, limit: int) -> bool:
        return max(self.removed, self.inbox_removed, self.outbox_removed) < limit


class PromotingKeys(BaseModel):
    """Permanent keys (`tenants/{tenant}/assets/{asset}/original`) of the principal's tenant
    that cleanup found a multipart upload under."""

    object_keys: list[str] = Field(max_length=MAX_PROMOTING_KEYS)


class PromotingKeysView(BaseModel):
    """The subset of the keys asked about whose promotion completion still owns."""

    promoting: list[str]


class EventView(BaseModel):
    event_id: UUID
    type: str
    occurred_at: datetime
    data: dict[str, Any]


class EventsView(BaseModel):
    upload_session_id: UUID
    events: list[EventView]


Req = TypeVar("Req", bound=BaseModel)
Res = TypeVar("Res", bound=BaseModel)


@dataclass(frozen=True)
class CommandSpec(Generic[Req, Res]):
    """A command type with its request and result models, so that mypy checks a handler's
    signature (dispatch) and a caller's payload and result (request/reply) against them."""

    name: CommandType
    request: type[Req]
    result: type[Res]


class Commands:
    """Every command, typed: `Commands.INITIATE` is a CommandSpec[InitiateUpload, SessionView]."""

    INITIATE: Final = CommandSpec(CommandType.INITIATE, InitiateUpload, SessionView)
    INITIATE_BATCH: Final = CommandSpec(CommandType.INITIATE_BATCH, InitiateBatch, BatchResult)
    SIGN_PARTS: Final = CommandSpec(CommandType.SIGN_PARTS, SignParts, PartUrls)
    GET_SESSION: Final = CommandSpec(CommandType.GET_SESSION, SessionRef, SessionView)
    RESUME: Final = CommandSpec(CommandType.RESUME, SessionRef, ResumeView)
    TOUCH_ACTIVITY: Final = CommandSpec(CommandType.TOUCH_ACTIVITY, SessionRef, ActivityView)
    CANCEL: Final = CommandSpec(CommandType.CANCEL, SessionRef, StatusView)
    BEGIN_COMPLETION: Final = CommandSpec(CommandType.BEGIN_COMPLETION, SessionRef, SessionRecord)
    MARK_COMPLETED: Final = CommandSpec(CommandType.MARK_COMPLETED, MarkCompleted, SessionRecord)
    MARK_FAILED: Final = CommandSpec(CommandType.MARK_FAILED, MarkFailed, StatusView)
    FAIL_SESSIONS: Final = CommandSpec(CommandType.FAIL_SESSIONS, FailSessions, FailedSessions)
    PRUNE_TERMINAL_SESSIONS: Final = CommandSpec(
        CommandType.PRUNE_TERMINAL_SESSIONS, PruneOlderThan, PruneResult
    )
    COMPLETE: Final = CommandSpec(CommandType.COMPLETE, CompleteUpload, CompletionResult)
    PRUNE_COMPLETION_RECORDS: Final = CommandSpec(
        CommandType.PRUNE_COMPLETION_RECORDS, PruneOlderThan, PruneResult
    )
    PROMOTING_KEYS: Final = CommandSpec(
        CommandType.PROMOTING_KEYS, PromotingKeys, PromotingKeysView
    )
    RUN_CLEANUP_JOB: Final = CommandSpec(CommandType.RUN_CLEANUP_JOB, RunCleanupJob, JobRunView)
    GET_EVENTS: Final = CommandSpec(CommandType.GET_EVENTS, SessionRef, EventsView)


COMMAND_MODELS: Final[dict[CommandType, tuple[type[BaseModel], type[BaseModel]]]] = {
    spec.name: (spec.request, spec.result)
    for spec in vars(Commands).values()
    if isinstance(spec, CommandSpec)
}
