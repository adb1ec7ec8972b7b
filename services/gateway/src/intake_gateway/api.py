"""Request bodies of the HTTP API, exactly as the contract in docs/architecture.md spells them.

Every bound comes from `intake_contracts.fields`, so the OpenAPI document states it.
"""

from typing import Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from intake_contracts.commands import (
    MAX_BATCH_FILES,
    MAX_SIGNED_PARTS_PER_CALL,
    AssetView,
    BatchFile,
    CompletedPart,
    InitiateFields,
)
from intake_contracts.errors import ErrorBody, ErrorCode
from intake_contracts.fields import (
    MAX_PARTS_PER_COMPLETE,
    Identifier,
    PartNumber,
    Reference,
    Title,
)
from intake_contracts.integrity import Base64Checksum
from intake_contracts.sessions import SessionView


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


# The Idempotency-Key travels as a header and the batch reference only in batches. No
# docstring: it would become the OpenAPI schema's description.
class InitiateBody(InitiateFields, _Body):
    pass


class CheckedFiles(list[BatchFile]):
    """A batch's files that passed the contract, with the refusal of each that did not, by its
    position in the request: one file's problem never refuses the others."""

    def __init__(self, valid: list[BatchFile], refused: dict[int, "BatchUploadRefused"]) -> None:
        super().__init__(valid)
        self.refused = refused


def _check_files(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Each file on its own; only a `files` that is not a list of the allowed length is a
    problem of the whole request (answered by the ordinary validation)."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_BATCH_FILES:
        return handler(value)
    valid: list[BatchFile] = []
    refused: dict[int, BatchUploadRefused] = {}
    for position, item in enumerate(value):
        try:
            valid.append(BatchFile.model_validate(item))
        except ValidationError as error:
            refused[position] = file_refusal(item, error)
    return CheckedFiles(valid, refused)


# Which code a file's problem has, by the field it is in; any other field is validation_failed.
_FIELD_CODES: Final = {
    "file_name": ErrorCode.FILE_NAME_INVALID,
    "file_size": ErrorCode.FILE_SIZE_INVALID,
    "mime_type": ErrorCode.MIME_TYPE_INVALID,
}


def file_refusal(item: Any, error: ValidationError) -> "BatchUploadRefused":
    first = error.errors(include_url=False, include_input=False)[0]
    field = str(first["loc"][0]) if first["loc"] else "file"
    reference = item.get("client_reference") if isinstance(item, dict) else None
    return BatchUploadRefused(
        client_reference=reference if isinstance(reference, str) else "",
        error=ErrorBody(
            code=_FIELD_CODES.get(field, ErrorCode.VALIDATION_FAILED),
            detail=f"{field}: {first['msg']}",
        ),
    )


# The codes a file's own entry in `uploads` may carry: its contract (gateway), then the rules
# initiation applies to each file (size, media-type policy, brand, checksums, quota), and
# `internal_error` for a file that could not be initiated now and may be sent again.
PER_FILE_CODES: Final = (
    ErrorCode.FILE_NAME_INVALID,
    ErrorCode.FILE_SIZE_INVALID,
    ErrorCode.FILE_TOO_LARGE,
    ErrorCode.MIME_TYPE_INVALID,
    ErrorCode.MIME_TYPE_NOT_ALLOWED,
    ErrorCode.BRAND_NOT_ALLOWED,
    ErrorCode.CHECKSUM_INVALID,
    ErrorCode.CHECKSUM_REQUIRED,
    ErrorCode.CHECKSUM_ALGORITHM_UNSUPPORTED,
    ErrorCode.QUOTA_EXCEEDED,
    ErrorCode.VALIDATION_FAILED,
    ErrorCode.INTERNAL_ERROR,
)


class InitiateBatchBody(_Body):
    brand_id: Identifier
    batch_reference: Reference | None = None
    # Documented as a list of BatchFile; a file that breaks BatchFile's rules is answered
    # `ok: false` in its own entry (CheckedFiles.refused) and the others go on.
    files: Annotated[
        list[BatchFile],
        Field(
            min_length=1,
            max_length=MAX_BATCH_FILES,
            description=(
                "Each file is checked on its own: a file with a problem of its own (name, size,"
                " type, checksum, reference, its brand, the media-type policy, the tenant's"
                " quota) is refused in its own entry of `uploads` (`ok: false`, `error.code`: "
                + ", ".join(code.value for code in PER_FILE_CODES)
                + ") while the others go on. Only a problem of the request as a whole refuses"
                " it: the batch's `brand_id`, a `files` that is not a list of 1 to 100 entries,"
                " malformed JSON, a body too large."
            ),
        ),
        WrapValidator(_check_files),
    ]


class PartUrlBody(_Body):
    part_number: PartNumber
    checksum: Base64Checksum | None = None


class PartUrlsBody(_Body):
    part_numbers: list[PartNumber] = Field(min_length=1, max_length=MAX_SIGNED_PARTS_PER_CALL)
    checksums: list[Base64Checksum] | None = Field(
        default=None, max_length=MAX_SIGNED_PARTS_PER_CALL
    )


class CompletedPartBody(CompletedPart):
    part_number: PartNumber


class CompleteBody(_Body):
    upload_session_id: UUID
    title: Title | None = None
    parts: list[CompletedPartBody] | None = Field(default=None, max_length=MAX_PARTS_PER_COMPLETE)


class CompletionView(BaseModel):
    asset: AssetView
    upload_session_id: UUID
    status: Literal["COMPLETED"] = "COMPLETED"


class BatchUploadAccepted(SessionView):
    client_reference: str
    ok: Literal[True] = True


class BatchUploadRefused(BaseModel):
    client_reference: str
    ok: Literal[False] = False
    error: ErrorBody


class BatchAnswer(BaseModel):
    batch_reference: str
    uploads: list[BatchUploadAccepted | BatchUploadRefused]


BODY_MODELS: list[type[BaseModel]] = [
    InitiateBody,
    InitiateBatchBody,
    BatchFile,
    PartUrlBody,
    PartUrlsBody,
    CompleteBody,
    CompletedPartBody,
]
