"""The UploadSession and its pure rules: state machine, strategy, chunk size, validation,
the draft of a new session and the refusals of a finished one. No I/O."""

import hashlib
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from intake_contracts import keys, media_types
from intake_contracts.commands import InitiateUpload
from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.integrity import MULTIPART_CHECKSUM_TYPE, ChecksumAlgorithm, ChecksumType
from intake_contracts.sessions import TERMINAL_STATUSES, UploadStatus, UploadType
from intake_initiation import integrity

MiB: Final = 1024 * 1024
GiB: Final = 1024 * MiB
TiB: Final = 1024 * GiB
DIRECT_LIMIT: Final = 5 * MiB
MIN_PART_SIZE: Final = 5 * MiB
MAX_PART_SIZE: Final = 5 * GiB
MAX_PARTS: Final = 10_000
# A COMPOSITE upload's `complete` names each part's checksum, about 125 bytes a part: 5,000
# parts keep it well under the 1 MiB body limit and Kafka's 1 MiB message.
MAX_PARTS_NAMING_CHECKSUMS: Final = 5_000
MAX_FILE_NAME_LENGTH: Final = 255

_TRANSITIONS: Final[dict[UploadStatus, frozenset[UploadStatus]]] = {
    UploadStatus.INITIATING: frozenset(
        {UploadStatus.UPLOADING, UploadStatus.FAILED, UploadStatus.CANCELLED}
    ),
    UploadStatus.UPLOADING: frozenset(
        {UploadStatus.COMPLETED, UploadStatus.FAILED, UploadStatus.CANCELLED}
    ),
    UploadStatus.COMPLETED: frozenset(),
    UploadStatus.FAILED: frozenset(),
    UploadStatus.CANCELLED: frozenset(),
}
EXPIRED_REASON: Final = "expired"
# Fixed forever: every delivery of one InitiateUpload command must name the same session.
SESSION_NAMESPACE: Final = UUID("0783720a-4dc9-4625-9ce5-66af23d830d9")


@dataclass(frozen=True)
class Session:
    id: UUID
    tenant_id: str
    brand_id: str
    user_id: str
    status: UploadStatus
    file_name: str
    mime_type: str
    size_bytes: int
    upload_type: UploadType
    chunk_size: int | None
    part_count: int | None
    bucket: str
    temp_key: str
    multipart_upload_id: str | None
    client_reference: str | None
    batch_reference: str | None
    category_id: str | None
    checksum_sha256: str | None
    idempotency_key: str | None
    request_fingerprint: str | None
    expires_at: datetime
    last_activity_at: datetime
    failure_reason: str | None
    asset_id: UUID | None
    created_at: datetime
    checksum_algorithm: ChecksumAlgorithm | None = None
    checksum: str | None = None  # the whole file's, base64 in checksum_algorithm


def can_transition(current: UploadStatus, target: UploadStatus) -> bool:
    """The whole state machine: terminal statuses have no way out."""
    return target in _TRANSITIONS[current]


def sources_of(target: UploadStatus) -> list[UploadStatus]:
    """Statuses from which `target` may be reached: the compare-and-set's allowed set."""
    return [status for status, targets in _TRANSITIONS.items() if target in targets]


def is_terminal(status: UploadStatus) -> bool:
    return status in TERMINAL_STATUSES


def strategy_for(size_bytes: int) -> UploadType:
    return UploadType.DIRECT if size_bytes < DIRECT_LIMIT else UploadType.MULTIPART


def max_parts_for(algorithm: ChecksumAlgorithm | None) -> int:
    """S3's 10,000 parts, or fewer when complete must name every part's checksum."""
    if algorithm is not None and MULTIPART_CHECKSUM_TYPE[algorithm] == ChecksumType.COMPOSITE:
        return MAX_PARTS_NAMING_CHECKSUMS
    return MAX_PARTS


def chunk_size_for(
    size_bytes: int, default_chunk: int = 8 * MiB, max_parts: int = MAX_PARTS
) -> int:
    """The default chunk, raised in whole MiB until the file fits in `max_parts` parts."""
    chunk = max(default_chunk, MIN_PART_SIZE)
    if chunk * max_parts < size_bytes:
        needed = -(-size_bytes // max_parts)
        chunk = -(-needed // MiB) * MiB
    if chunk > MAX_PART_SIZE:
        raise DomainError(ErrorCode.FILE_TOO_LARGE, "file needs parts larger than 5 GiB")
    return chunk


def part_count_for(size_bytes: int, chunk_size: int) -> int:
    return max(1, -(-size_bytes // chunk_size))


def part_size(part_number: int, size_bytes: int, chunk_size: int) -> int:
    """Every part is one chunk except the last, which holds what remains."""
    return min(chunk_size, size_bytes - (part_number - 1) * chunk_size)


def validate_file(file_name: str, size_bytes: int, mime_type: str, max_size: int) -> None:
    """Raises DomainError with the precise code of the first problem found."""
    if not file_name.strip() or len(file_name) > MAX_FILE_NAME_LENGTH:
        raise DomainError(
            ErrorCode.FILE_NAME_INVALID,
            f"file_name must be 1 to {MAX_FILE_NAME_LENGTH} characters",
        )
    if any(char in file_name for char in "/\\\x00") or file_name in {".", ".."}:
        raise DomainError(ErrorCode.FILE_NAME_INVALID, "file_name must not contain a path")
    if size_bytes <= 0:
        raise DomainError(ErrorCode.FILE_SIZE_INVALID, "file_size must be a positive byte count")
    if size_bytes > max_size:
        raise DomainError(
            ErrorCode.FILE_TOO_LARGE, f"file_size {size_bytes} exceeds the maximum of {max_size}"
        )
    try:
        media_types.normalised(mime_type)
    except ValueError as error:
        raise DomainError(ErrorCode.MIME_TYPE_INVALID, f"{error}: {mime_type!r}") from None


def check_mime_policy(mime_type: str, allowed: list[str], denied: list[str]) -> None:
    """`mime_type` must match an allowed pattern and no denied one (`image/*`, `*/*`)."""
    normalised = mime_type.lower()
    if not media_types.matches(normalised, allowed) or media_types.matches(normalised, denied):
        raise DomainError(
            ErrorCode.MIME_TYPE_NOT_ALLOWED, f"mime_type {mime_type!r} is not accepted here"
        )


def validate_checksum(checksum_sha256: str | None) -> None:
    if checksum_sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", checksum_sha256):
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "checksum_sha256 must be 64 lowercase hex digits"
        )


def is_expired(expires_at: datetime, now: datetime) -> bool:
    return now >= expires_at


def can_resume(status: UploadStatus, expires_at: datetime, now: datetime) -> bool:
    return status == UploadStatus.UPLOADING and not is_expired(expires_at, now)


def url_expiry(now: datetime, url_ttl_s: int, session_expires_at: datetime) -> datetime:
    """A presigned URL never outlives its session."""
    return min(now + timedelta(seconds=url_ttl_s), session_expires_at)


def check_part_numbers(part_numbers: list[int], part_count: int) -> None:
    bad = [number for number in part_numbers if not 1 <= number <= part_count]
    if bad:
        raise DomainError(
            ErrorCode.PART_NUMBER_OUT_OF_RANGE,
            f"part numbers {bad} are outside 1..{part_count}",
        )


def refusal_for_terminal(status: UploadStatus) -> DomainError:
    """The conflict a terminal session answers to an operation that needs a live one."""
    code = {
        UploadStatus.CANCELLED: ErrorCode.UPLOAD_CANCELLED,
        UploadStatus.FAILED: ErrorCode.UPLOAD_FAILED,
    }.get(status, ErrorCode.INVALID_SESSION_STATE)
    return DomainError(code, f"upload session is {status}")


@dataclass(frozen=True)
class Placement:
    """Where and for how long new sessions live: the settings the draft needs."""

    bucket: str
    ttl_s: int
    default_chunk_size: int


def session_id_for(message_id: UUID) -> UUID:
    """The session an initiate command creates, however often it is delivered."""
    return uuid.uuid5(SESSION_NAMESPACE, str(message_id))


def draft(
    request: InitiateUpload,
    principal: Principal,
    session_id: UUID,
    now: datetime,
    placement: Placement,
) -> Session:
    """The session an initiate request asks for, before it is stored."""
    upload_type = strategy_for(request.file_size)
    chunk_size = part_count = None
    if upload_type == UploadType.MULTIPART:
        chunk_size = chunk_size_for(
            request.file_size,
            placement.default_chunk_size,
            max_parts_for(request.checksum_algorithm),
        )
        part_count = part_count_for(request.file_size, chunk_size)
    return Session(
        id=session_id,
        tenant_id=principal.tenant_id,
        brand_id=request.brand_id,
        user_id=principal.user_id,
        status=UploadStatus.INITIATING,
        file_name=request.file_name,
        mime_type=request.mime_type,
        size_bytes=request.file_size,
        upload_type=upload_type,
        chunk_size=chunk_size,
        part_count=part_count,
        bucket=placement.bucket,
        temp_key=keys.temp_key(session_id),
        multipart_upload_id=None,
        client_reference=request.client_reference,
        batch_reference=request.batch_reference,
        category_id=request.category_id,
        checksum_sha256=request.checksum_sha256,
        idempotency_key=request.idempotency_key,
        request_fingerprint=fingerprint(request),
        expires_at=now + timedelta(seconds=placement.ttl_s),
        last_activity_at=now,
        failure_reason=None,
        asset_id=None,
        created_at=now,
        checksum_algorithm=request.checksum_algorithm,
        checksum=integrity.declared_checksum(request),
    )


def opened(draft: Session, multipart_upload_id: str | None) -> Session:
    """The draft once its place in storage is ready: UPLOADING, stored so in one insert."""
    if not can_transition(draft.status, UploadStatus.UPLOADING):
        raise DomainError(ErrorCode.INVALID_SESSION_STATE, f"session left {draft.status}")
    return replace(draft, status=UploadStatus.UPLOADING, multipart_upload_id=multipart_upload_id)


def fingerprint(request: InitiateUpload) -> str:
    """What makes two initiate requests the same request, for Idempotency-Key replays."""
    excluded = {"idempotency_key", "batch_reference"}
    # Absent integrity fields leave the fingerprint of a request made before they existed.
    excluded |= {
        name for name in ("checksum_algorithm", "checksum") if getattr(request, name) is None
    }
    material = request.model_dump_json(exclude=excluded)
    return hashlib.sha256(material.encode()).hexdigest()


def check_replay(existing: Session, request_fingerprint: str) -> None:
    """An Idempotency-Key replays only the request it was first used for."""
    if existing.request_fingerprint != request_fingerprint:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this Idempotency-Key was used for a different request",
        )


def refusal(session: Session) -> DomainError:
    """Why a finished session refuses an operation that needs a live one."""
    if session.status == UploadStatus.FAILED and session.failure_reason == EXPIRED_REASON:
        return DomainError(ErrorCode.UPLOAD_SESSION_EXPIRED, "upload session has expired")
    return refusal_for_terminal(session.status)


def require_live(session: Session, now: datetime) -> None:
    if is_terminal(session.status):
        raise refusal(session)
    if is_expired(session.expires_at, now):
        raise DomainError(ErrorCode.UPLOAD_SESSION_EXPIRED, "upload session has expired")


def require_live_multipart(session: Session, now: datetime) -> None:
    require_live(session, now)
    if session.upload_type != UploadType.MULTIPART or session.status != UploadStatus.UPLOADING:
        raise DomainError(
            ErrorCode.INVALID_SESSION_STATE, "part URLs exist only for multipart uploads"
        )


def require_startable_completion(session: Session, now: datetime) -> None:
    """Completion may begin on an UPLOADING live session, or answer a COMPLETED one again."""
    if session.status == UploadStatus.COMPLETED:
        return
    require_live(session, now)
    if session.status != UploadStatus.UPLOADING:
        raise DomainError(ErrorCode.INVALID_SESSION_STATE, "upload has not started")


def require_service(principal: Principal) -> None:
    """Status changes that only Intake's own services may ask for."""
    if principal.service is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "only Intake services may do this")
