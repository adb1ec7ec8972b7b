"""The initiation service's one configuration object."""

from pydantic import Field

from intake_runtime.settings import PostgresSettings, S3Settings, ServiceSettings

SCHEMA = "initiation"


class InitiationSettings(ServiceSettings, PostgresSettings, S3Settings):
    session_ttl_s: int = Field(default=24 * 3600, alias="INTAKE_SESSION_TTL_S", gt=0)
    presigned_url_ttl_s: int = Field(default=15 * 60, alias="INTAKE_PRESIGNED_URL_TTL_S", gt=0)
    max_file_size: int = Field(default=5 * 1024**4, alias="INTAKE_MAX_FILE_SIZE", gt=0)
    default_chunk_size: int = Field(
        default=8 * 1024 * 1024, alias="INTAKE_DEFAULT_CHUNK_SIZE", ge=5 * 1024 * 1024
    )
    command_workers: int = Field(default=4, alias="INTAKE_COMMAND_WORKERS", ge=1, le=64)
