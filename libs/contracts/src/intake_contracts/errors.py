"""Stable, machine-readable error codes and the HTTP status each one maps to."""

from enum import StrEnum

from pydantic import BaseModel


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "unauthenticated"
    PERMISSION_DENIED = "permission_denied"
    BRAND_NOT_ALLOWED = "brand_not_allowed"
    UPLOAD_SESSION_NOT_FOUND = "upload_session_not_found"
    VALIDATION_FAILED = "validation_failed"
    FILE_TOO_LARGE = "file_too_large"
    FILE_SIZE_INVALID = "file_size_invalid"
    FILE_NAME_INVALID = "file_name_invalid"
    MIME_TYPE_INVALID = "mime_type_invalid"
    MIME_TYPE_NOT_ALLOWED = "mime_type_not_allowed"
    BATCH_TOO_LARGE = "batch_too_large"
    BODY_TOO_LARGE = "body_too_large"
    MALFORMED_JSON = "malformed_json"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXCEEDED = "quota_exceeded"
    PART_NUMBER_OUT_OF_RANGE = "part_number_out_of_range"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    INVALID_SESSION_STATE = "invalid_session_state"
    UPLOAD_CANCELLED = "upload_cancelled"
    UPLOAD_FAILED = "upload_failed"
    UPLOAD_SESSION_EXPIRED = "upload_session_expired"
    UPLOAD_INCOMPLETE = "upload_incomplete"
    PARTS_INVALID = "parts_invalid"
    SIZE_MISMATCH = "size_mismatch"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    CHECKSUM_REQUIRED = "checksum_required"
    CHECKSUM_INVALID = "checksum_invalid"
    CHECKSUM_ALGORITHM_UNSUPPORTED = "checksum_algorithm_unsupported"
    UNKNOWN_JOB = "unknown_job"
    ROUTE_NOT_FOUND = "route_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    SERVICE_TIMEOUT = "service_timeout"
    SERVICE_UNAVAILABLE = "service_unavailable"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    INTERNAL_ERROR = "internal_error"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.BRAND_NOT_ALLOWED: 403,
    ErrorCode.UPLOAD_SESSION_NOT_FOUND: 404,
    ErrorCode.VALIDATION_FAILED: 422,
    ErrorCode.FILE_TOO_LARGE: 422,
    ErrorCode.FILE_SIZE_INVALID: 422,
    ErrorCode.FILE_NAME_INVALID: 422,
    ErrorCode.MIME_TYPE_INVALID: 422,
    ErrorCode.MIME_TYPE_NOT_ALLOWED: 422,
    ErrorCode.BATCH_TOO_LARGE: 422,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.MALFORMED_JSON: 400,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.QUOTA_EXCEEDED: 429,
    ErrorCode.PART_NUMBER_OUT_OF_RANGE: 422,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.INVALID_SESSION_STATE: 409,
    ErrorCode.UPLOAD_CANCELLED: 409,
    ErrorCode.UPLOAD_FAILED: 409,
    ErrorCode.UPLOAD_SESSION_EXPIRED: 410,
    ErrorCode.UPLOAD_INCOMPLETE: 422,
    ErrorCode.PARTS_INVALID: 422,
    ErrorCode.SIZE_MISMATCH: 422,
    ErrorCode.CHECKSUM_MISMATCH: 422,
    ErrorCode.CHECKSUM_REQUIRED: 422,
    ErrorCode.CHECKSUM_INVALID: 422,
    ErrorCode.CHECKSUM_ALGORITHM_UNSUPPORTED: 422,
    ErrorCode.UNKNOWN_JOB: 422,
    ErrorCode.ROUTE_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.SERVICE_TIMEOUT: 504,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL_ERROR: 500,
}

# A dependency was down or slow: nothing changed, and the same request may succeed later.
TRANSIENT_CODES: frozenset[ErrorCode] = frozenset(
    {ErrorCode.SERVICE_TIMEOUT, ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.STORAGE_UNAVAILABLE}
)


class ErrorBody(BaseModel):
    """What a failed command replies and what the gateway turns into problem+json."""

    code: ErrorCode
    detail: str

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.code]

    def exception(self) -> "DomainError | TransientError":
        """The error a caller raises on this answer: a transient code as TransientError (a
        retry may succeed), any other as the DomainError it was."""
        if self.code in TRANSIENT_CODES:
            return TransientError(self.code, self.detail)
        return DomainError(self.code, self.detail)


class CodedError(Exception):
    """An error that travels: a stable code and a detail, answered as an error reply."""

    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, detail=self.detail)


class DomainError(CodedError):
    """Raised by use cases; carried back to the caller as an error reply."""


class TransientError(CodedError):
    """A dependency failed (S3, Postgres): nothing was changed, and a retry may succeed."""
