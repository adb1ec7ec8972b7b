"""The initiation service's one configuration object."""

from typing import Final

from pydantic import Field, field_validator

from intake_contracts import media_types
from intake_contracts.integrity import ChecksumAlgorithm
from intake_runtime.settings import CommandWorkers, PostgresSettings, S3Settings, ServiceSettings

SERVICE: Final = "initiation"
SCHEMA: Final = "initiation"


class InitiationSettings(ServiceSettings, PostgresSettings, S3Settings):
    session_ttl_s: int = Field(default=24 * 3600, alias="INTAKE_SESSION_TTL_S", gt=0)
    presigned_url_ttl_s: int = Field(default=15 * 60, alias="INTAKE_PRESIGNED_URL_TTL_S", gt=0)
    max_file_size: int = Field(default=5 * 1024**4, alias="INTAKE_MAX_FILE_SIZE", gt=0)
    default_chunk_size: int = Field(
        default=8 * 1024 * 1024, alias="INTAKE_DEFAULT_CHUNK_SIZE", ge=5 * 1024 * 1024
    )
    command_workers: CommandWorkers = 4
    # A session's parts listing answers `resume` again for this long (0 = every call lists).
    resume_parts_cache_s: float = Field(
        default=2.0, alias="INTAKE_RESUME_PARTS_CACHE_S", ge=0, le=60
    )
    # Per tenant, across every replica (counted in initiation's database): live sessions and
    # the bytes they declared; a new session above either is 429 quota_exceeded.
    tenant_max_open_sessions: int = Field(
        default=10_000, alias="INTAKE_TENANT_MAX_OPEN_SESSIONS", ge=1
    )
    tenant_max_open_bytes: int = Field(
        default=20 * 1024**4, alias="INTAKE_TENANT_MAX_OPEN_BYTES", ge=1
    )
    # Comma-separated patterns (`image/*`, `application/pdf`, `*/*+xml`), checked at start-up:
    # a type must match an allowed pattern and no denied one, else 422 mime_type_not_allowed.
    # Setting the denied list replaces the default (active content), it does not extend it.
    allowed_mime_types: str = Field(default="*/*", alias="INTAKE_ALLOWED_MIME_TYPES")
    denied_mime_types: str = Field(
        default=",".join(media_types.ACTIVE_CONTENT), alias="INTAKE_DENIED_MIME_TYPES"
    )

    @field_validator("allowed_mime_types", "denied_mime_types")
    @classmethod
    def _media_type_patterns(cls, value: str) -> str:
        media_types.patterns(value)
        return value

    # Algorithms a session may declare: those the store verifies on PUT and UploadPart.
    # SHA256 always; CRC32C and CRC64NVME are verified by AWS S3 and SeaweedFS >= 4.
    checksum_algorithms: str = Field(
        default="SHA256,CRC32C,CRC64NVME", alias="INTAKE_CHECKSUM_ALGORITHMS"
    )

    @field_validator("checksum_algorithms")
    @classmethod
    def _known_algorithms(cls, value: str) -> str:
        for name in _names(value):
            ChecksumAlgorithm(name.upper())  # ValueError names an unknown one at start-up
        return value

    @property
    def supported_checksum_algorithms(self) -> frozenset[ChecksumAlgorithm]:
        named = {ChecksumAlgorithm(name.upper()) for name in _names(self.checksum_algorithms)}
        return frozenset(named | {ChecksumAlgorithm.SHA256})

    @property
    def allowed_mime_type_patterns(self) -> list[str]:
        return media_types.patterns(self.allowed_mime_types)

    @property
    def denied_mime_type_patterns(self) -> list[str]:
        return media_types.patterns(self.denied_mime_types)


def _names(value: str) -> list[str]:
    """A comma-separated list of names, blanks dropped."""
    return [name.strip() for name in value.split(",") if name.strip()]
