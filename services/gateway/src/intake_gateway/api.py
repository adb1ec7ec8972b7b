"""Request bodies of the HTTP API, exactly as the contract in docs/architecture.md spells them."""

from uuid import UUID

from pydantic import BaseModel, ConfigDict

from intake_contracts.commands import BatchFile, CompletedPart


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class InitiateBody(_Body):
    file_name: str
    file_size: int
    mime_type: str
    brand_id: str
    client_reference: str | None = None
    category_id: str | None = None
    checksum_sha256: str | None = None


class InitiateBatchBody(_Body):
    brand_id: str
    batch_reference: str | None = None
    files: list[BatchFile]


class PartUrlBody(_Body):
    part_number: int


class PartUrlsBody(_Body):
    part_numbers: list[int]


class CompleteBody(_Body):
    upload_session_id: UUID
    title: str | None = None
    parts: list[CompletedPart] | None = None
