"""One file of a batch: the single initiation it stands for, and the error entry it gets when
that initiation fails, whatever the cause (one file's failure never touches another's)."""

import logging

from pydantic import ValidationError

from intake_contracts.commands import BatchFile, InitiateBatch, InitiateUpload
from intake_contracts.errors import DomainError, ErrorBody, ErrorCode, TransientError

log = logging.getLogger(__name__)


def file_request(file: BatchFile, batch: InitiateBatch, batch_reference: str) -> InitiateUpload:
    """The file's own initiation; the batch's brand where the file names none.

    Raises:
        ValidationError: the file breaks a rule of a single initiation.
    """
    return InitiateUpload(
        file_name=file.file_name,
        file_size=file.file_size,
        mime_type=file.mime_type,
        brand_id=file.brand_id or batch.brand_id,
        client_reference=file.client_reference,
        batch_reference=batch_reference,
        checksum_sha256=file.checksum_sha256,
        checksum_algorithm=file.checksum_algorithm,
        checksum=file.checksum,
    )


def file_error(error: Exception, client_reference: str) -> ErrorBody:
    """The file's error entry: ours as it is, a validation failure by its first message, and
    anything unexpected logged and offered for a retry."""
    if isinstance(error, DomainError | TransientError):
        return error.body()
    if isinstance(error, ValidationError):
        detail = f"invalid file: {error.errors()[0]['msg']}"
        return ErrorBody(code=ErrorCode.VALIDATION_FAILED, detail=detail)
    log.error("batch file failed", exc_info=error, extra={"client_reference": client_reference})
    detail = f"this file could not be initiated ({type(error).__name__}); retry it"
    return ErrorBody(code=ErrorCode.INTERNAL_ERROR, detail=detail)
