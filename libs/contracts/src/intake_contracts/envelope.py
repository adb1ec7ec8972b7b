"""The versioned envelope every Kafka message travels in."""

from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from intake_contracts.errors import DomainError, ErrorCode

CURRENT_SCHEMA_VERSION: Final = 1

UPLOAD_PERMISSION: Final = "assets.upload"


class Principal(BaseModel):
    """Who acts: the verified claims of the caller's token, or a service acting on its own."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    tenant_id: str
    brand_ids: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    service: str | None = None

    def require_brand(self, brand_id: str) -> None:
        """A user acts only in the brands of their token; a service vouching for a command acts
        for the whole tenant (it checked the user's brand where the user asked)."""
        if self.service is None and brand_id not in self.brand_ids:
            raise DomainError(ErrorCode.BRAND_NOT_ALLOWED, f"brand {brand_id!r} is not yours")


class Envelope(BaseModel):
    """Wrapper of every command, reply and event; `payload` is the typed body as JSON."""

    message_id: UUID = Field(default_factory=uuid4)
    type: str
    schema_version: int = CURRENT_SCHEMA_VERSION
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str
    tenant_id: str | None = None
    principal: Principal | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


def upcast(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring an envelope of an older schema version to the current one (one place for it)."""
    version = int(raw.get("schema_version", CURRENT_SCHEMA_VERSION))
    if version > CURRENT_SCHEMA_VERSION:
        raise ValueError(f"schema_version {version} is newer than this service understands")
    return raw
