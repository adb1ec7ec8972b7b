"""Settings read from the environment once, validated at start-up, passed down explicitly."""

import sys
import uuid
from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound=BaseSettings)


class ServiceSettings(BaseSettings):
    """What every service process needs."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    instance_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex[:12], alias="INTAKE_INSTANCE_ID"
    )
    log_level: str = Field(default="INFO", alias="INTAKE_LOG_LEVEL")
    metrics_host: str = Field(default="127.0.0.1", alias="INTAKE_METRICS_HOST")
    metrics_port: int = Field(default=0, alias="INTAKE_METRICS_PORT", ge=0, le=65535)
    topic_partitions: int = Field(default=12, alias="INTAKE_TOPIC_PARTITIONS", ge=1)
    request_timeout_s: float = Field(default=10.0, alias="INTAKE_REQUEST_TIMEOUT_S", gt=0)
    # How long handing a message to Kafka may take before the broker counts as unreachable.
    publish_timeout_s: float = Field(default=3.0, alias="INTAKE_PUBLISH_TIMEOUT_S", gt=0)
    kafka_linger_ms: int = Field(default=1, alias="INTAKE_KAFKA_LINGER_MS", ge=0, le=5)
    kafka_fetch_wait_ms: int = Field(default=500, alias="INTAKE_KAFKA_FETCH_WAIT_MS", ge=0)


class PostgresSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    # Local development default; production sets its own URL and role per service.
    database_url: str = "postgresql://intake:intake@127.0.0.1:15432/intake"
    db_pool_min: int = Field(default=2, alias="INTAKE_DB_POOL_MIN", ge=1)
    db_pool_max: int = Field(default=10, alias="INTAKE_DB_POOL_MAX", ge=1)
    db_command_timeout_s: float = Field(default=10.0, alias="INTAKE_DB_COMMAND_TIMEOUT_S", gt=0)


# Browsers on these origins may call the gateway and PUT to the buckets: the gateway's
# default origin plus the usual local development servers.
DEFAULT_CORS_ORIGINS = ",".join(
    f"http://{host}:{port}" for port in (8000, 3000, 5173) for host in ("127.0.0.1", "localhost")
)


class CorsSettings(BaseSettings):
    """Which web origins may use Intake from a browser (gateway CORS and bucket CORS rule)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    cors_origins: str = Field(default=DEFAULT_CORS_ORIGINS, alias="INTAKE_CORS_ORIGINS")

    @property
    def cors_origin_list(self) -> list[str]:
        """The comma-separated origins, without blanks or trailing slashes."""
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]


class S3Settings(CorsSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    aws_endpoint_url: str | None = "http://127.0.0.1:18333"
    aws_region: str = "us-east-1"
    # Local development defaults of the native stack, never valid anywhere else.
    aws_access_key_id: str = "intake-dev-access-key"
    aws_secret_access_key: str = "intake-dev-secret-key"  # noqa: S105
    aws_bucket: str = "intake-uploads"
    storage_provision_strategy: Literal["shared", "per_tenant"] = "shared"
    s3_timeout_s: float = Field(default=10.0, alias="INTAKE_S3_TIMEOUT_S", gt=0)


def load_settings(settings_class: type[S], service: str) -> S:
    """Build the settings or stop the process with one clear line per bad value."""
    try:
        return settings_class()
    except ValidationError as error:
        for problem in error.errors():
            name = ".".join(str(part) for part in problem["loc"]).upper()
            sys.stderr.write(f"intake-{service}: configuration error: {name}: {problem['msg']}\n")
        raise SystemExit(2) from None
