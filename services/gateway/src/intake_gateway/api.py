"""Request bodies of the HTTP API, exactly as the contract in docs/architecture.md spells them.

Every bound comes from `intake_contracts.fields`, so the OpenAPI document states it.
"""

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from intake_contracts.commands import (
    MAX_BATCH_FILES,
    MAX_SIGNED_PARTS_PER_CALL,
    AssetView,
    BatchFile,
    CompletedPart,
)
from intake_contracts.errors import ErrorBody
from intake_contracts.fields import (
    MAX_PARTS_PER_COMPLETE,
    Checksum,
    FileName,
    FileSize,
    Identifier,
    MimeType,
    PartNumber,
    Reference,
    Title,
)
from intake_contracts.sessions import SessionView


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class InitiateBody(_Body):
    file_name: FileName
    file_size: FileSize
    mime_type: MimeType
    brand_id: Identifier
    client_reference: Reference | None = None
    category_id: Identifier | None = None
    checksum_sha256: Checksum | None = None


class InitiateBatchBody(_Body):
    brand_id: Identifier
    batch_reference: Reference | None = None
    files: list[BatchFile] = Field(min_length=1, max_length=MAX_BATCH_FILES)


class PartUrlBody(_Body):
    part_number: PartNumber


class PartUrlsBody(_Body):
    part_numbers: list[PartNumber] = Field(min_length=1, max_length=MAX_SIGNED_PARTS_PER_CALL)


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
