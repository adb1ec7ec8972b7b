"""The initiation service's one configuration object."""

from typing import Final

from pydantic import Field, field_validator

from intake_contracts.integrity import ChecksumAlgorithm
from intake_runtime.settings import CommandWorkers, PostgresSettings, S3Settings, ServiceSettings

SERVICE: Final = "initiation"
SCHEMA: Final = "initiation"
# Types a browser renders and runs when the object is opened from the bucket's origin.
EXECUTABLE_MIME_TYPES: Final = (
    "text/html",
    "application/xhtml+xml",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "text/ecmascript",
    "application/ecmascript",
)


class InitiationSettings(ServiceSettings, PostgresSettings, S3Settings):
    session_ttl_s: int = Field(default=24 * 3600, alias="INTAKE_SESSION_TTL_S", gt=0)
    presigned_url_ttl_s: int = Field(default=15 * 60, alias="INTAKE_PRESIGNED_URL_TTL_S", gt=0)
    max_file_size: int = Field(default=5 * 1024**4, alias="INTAKE_MAX_FILE_SIZE", gt=0)
    default_chunk_size: int = Field(
        default=8 * 1024 * 1024, alias="INTAKE_DEFAULT_CHUNK_SIZE", ge=5 * 1024 * 1024
    )
    command_workers: CommandWorkers = 4
    # Comma-separated patterns (`image/*`, `application/pdf`): a type must match an allowed
    # pattern and no denied one, else 422 mime_type_not_allowed.
    allowed_mime_types: str = Field(default="*/*", alias="INTAKE_ALLOWED_MIME_TYPES")
    denied_mime_types: str = Field(
        default=",".join(EXECUTABLE_MIME_TYPES), alias="INTAKE_DENIED_MIME_TYPES"
    )

    # Algorithms a session may declare: those the store verifies on PUT and UploadPart.
    # SHA256 always; CRC32C and CRC64NVME are verified by AWS S3 and SeaweedFS >= 4.
    checksum_algorithms: str = Field(
        default="SHA256,CRC32C,CRC64NVME", alias="INTAKE_CHECKSUM_ALGORITHMS"
    )

    @field_validator("checksum_algorithms")
    @classmethod
    def _known_algorithms(cls, value: str) -> str:
        for name in _patterns(value):
            ChecksumAlgorithm(name.upper())  # ValueError names an unknown one at start-up
        return value

    @property
    def supported_checksum_algorithms(self) -> frozenset[ChecksumAlgorithm]:
        named = {ChecksumAlgorithm(name.upper()) for name in _patterns(self.checksum_algorithms)}
        return frozenset(named | {ChecksumAlgorithm.SHA256})

    @property
    def allowed_mime_type_patterns(self) -> list[str]:
        return _patterns(self.allowed_mime_types)

    @property
    def denied_mime_type_patterns(self) -> list[str]:
        return _patterns(self.denied_mime_types)


def _patterns(value: str) -> list[str]:
    return [pattern.strip().lower() for pattern in value.split(",") if pattern.strip()]
