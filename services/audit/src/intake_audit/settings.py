"""The audit service's one configuration object."""

from typing import Final

from pydantic import Field

from intake_runtime.settings import PostgresSettings, ServiceSettings

SERVICE: Final = "audit"
SCHEMA: Final = "audit"


class AuditSettings(ServiceSettings, PostgresSettings):
    query_workers: int = Field(default=4, alias="INTAKE_AUDIT_QUERY_WORKERS", ge=1, le=64)
