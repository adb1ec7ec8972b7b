"""S3's answers as our errors: connection-level failures and S3's "try later" answers are
StorageUnavailableError (a TransientError, storage_unavailable); S3's refusals are StorageError
subclasses for what callers act on, and a plain StorageError carrying S3's code for the rest."""

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from intake_contracts.errors import ErrorCode, TransientError

P = ParamSpec("P")
R = TypeVar("R")


class StorageError(Exception):
    """S3 refused the call; `code` is S3's own error code (for logs and reports)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"S3 {code}: {detail}")
        self.code = code


class ObjectNotFoundError(StorageError):
    """No object at that key (or the bucket does not exist)."""


class UploadNotFoundError(StorageError):
    """S3 no longer knows the multipart upload: completed or aborted."""


class PartsRejectedError(StorageError):
    """S3 refused the part list of a completion (a part missing, re-uploaded or too small)."""


class ChecksumRejectedError(StorageError):
    """S3 found a checksum the request gave not to be that of the bytes (BadDigest): a body's,
    or a part's named in a completion's part list."""


class PreconditionFailedError(StorageError):
    """A conditional write refused (412): the copy source's ETag was another (If-Match), or
    the target already exists (If-None-Match: *)."""


class StorageUnavailableError(TransientError):
    """S3 could not be reached or asked us to come back later: a retry may succeed."""

    def __init__(self, detail: str) -> None:
        super().__init__(ErrorCode.STORAGE_UNAVAILABLE, detail)


_UNAVAILABLE = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "503"})
_REFUSALS: Mapping[str, type[StorageError]] = {
    "NoSuchKey": ObjectNotFoundError,
    "NoSuchBucket": ObjectNotFoundError,
    "NoSuchUpload": UploadNotFoundError,
    "InvalidPart": PartsRejectedError,
    "InvalidPartOrder": PartsRejectedError,
    "EntityTooSmall": PartsRejectedError,
    "BadDigest": ChecksumRejectedError,
    "XAmzContentChecksumMismatch": ChecksumRejectedError,
    "PreconditionFailed": PreconditionFailedError,
    "412": PreconditionFailedError,
}
BUCKET_MISSING = frozenset({"404", "NoSuchBucket", "NotFound"})


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def translated(error: Exception, missing: type[StorageError]) -> Exception:
    """Our error for a botocore one; `missing` is what a bare 404 (a HEAD has no body to name
    the code) means for the operation at hand."""
    if isinstance(error, ClientError):
        code = error_code(error)
        if code in _UNAVAILABLE:
            return StorageUnavailableError(str(error))
        kind = missing if code in {"404", "NotFound"} else _REFUSALS.get(code, StorageError)
        return kind(code, str(error))
    if isinstance(error, ParamValidationError):  # our bug: a retry would fail the same way
        return StorageError("ParamValidation", str(error))
    return StorageUnavailableError(f"S3: {error}")


BOTO_ERRORS = (ClientError, BotoCoreError, OSError, TimeoutError)


def s3_errors(
    missing: type[StorageError] = ObjectNotFoundError,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    def decorate(operation: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(operation)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await operation(*args, **kwargs)
            except BOTO_ERRORS as error:
                raise translated(error, missing) from error

        return wrapper

    return decorate
