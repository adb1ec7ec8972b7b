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
    InitiateFields,
)
from intake_contracts.errors import ErrorBody
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


class InitiateBatchBody(_Body):
    brand_id: Identifier
    batch_reference: Reference | None = None
    files: list[BatchFile] = Field(min_length=1, max_length=MAX_BATCH_FILES)


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
