"""Settings read from the environment once, validated at start-up, passed down explicitly.

Each field is read from exactly one environment variable, its alias (the only spelling: code
and tests construct settings with the same names). A field several services share, with a
default of their own, is an annotated type declared here once with its variable and bounds.

`INTAKE_ENV=local` fills the native stack's development defaults (addresses, keys, secrets);
`production` (the default) fills nothing, so AWS means AWS and its credential chain, and each
service lists every value a production deployment must set before it refuses to start.
"""

import sys
import uuid
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from intake_contracts.keys import bucket_name_problem, per_tenant_bucket_problem
from intake_runtime.messaging.names import NAMESPACE_PATTERN

S = TypeVar("S", bound="IntakeSettings")

Environment = Literal["local", "production"]
KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
_LOCAL_ONLY: Final = "local_only"


def local_only(value: str, **field: Any) -> Any:
    """A field unset in production whose value in local mode is `value` (never a real one)."""
    return Field(default=None, json_schema_extra={_LOCAL_ONLY: value}, **field)


class IntakeSettings(BaseSettings):
    """The base of every settings class: the environment mode and the start-up refusals."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    environment: Environment = Field(default="production", alias="INTAKE_ENV")

    @model_validator(mode="before")
    @classmethod
    def _fill_local_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # An empty variable means unset: AWS_ENDPOINT_URL="" must not become an endpoint.
        values = {key: value for key, value in data.items() if value != ""}
        if values.get("INTAKE_ENV", "production") != "local":
            return values
        for name, field in cls.model_fields.items():
            extra = field.json_schema_extra
            if isinstance(extra, dict) and _LOCAL_ONLY in extra:
                values.setdefault(field.alias or name, extra[_LOCAL_ONLY])
        return values

    @property
    def production(self) -> bool:
        return self.environment == "production"

    def refusals(self) -> list[str]:
        """One `VARIABLE: problem` line per setting this process must not start with."""
        return []


class ServiceSettings(IntakeSettings):
    """What every service process needs."""

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:19092", alias="KAFKA_BOOTSTRAP_SERVERS")
    instance_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex[:12], alias="INTAKE_INSTANCE_ID"
    )
    log_level: str = Field(default="INFO", alias="INTAKE_LOG_LEVEL")
    metrics_host: str = Field(default="127.0.0.1", alias="INTAKE_METRICS_HOST")
    metrics_port: int = Field(default=0, alias="INTAKE_METRICS_PORT", ge=0, le=65535)
    topic_partitions: int = Field(default=12, alias="INTAKE_TOPIC_PARTITIONS", ge=1)
    # Copies Kafka keeps of each partition of the topics Intake creates: 1 for a single broker;
    # a production cluster wants 3 (with the brokers' min.insync.replicas at 2).
    topic_replication: int = Field(default=1, alias="INTAKE_TOPIC_REPLICATION", ge=1)
    request_timeout_s: float = Field(default=10.0, alias="INTAKE_REQUEST_TIMEOUT_S", gt=0)
    # How long handing a message to Kafka may take before the broker counts as unreachable.
    publish_timeout_s: float = Field(default=3.0, alias="INTAKE_PUBLISH_TIMEOUT_S", gt=0)
    # 0: a produce goes out at once. aiokafka's linger is a timer per batch, and on the
    # request/reply path each of a command's two produces waited it out (1 ms cost a bare
    # produce -> consume -> produce -> consume round trip +5-6 ms p50, docs/decisions/0007);
    # under load records still batch while the previous request to the broker is in flight.
    kafka_linger_ms: int = Field(default=0, alias="INTAKE_KAFKA_LINGER_MS", ge=0, le=5)
    kafka_fetch_wait_ms: int = Field(default=500, alias="INTAKE_KAFKA_FETCH_WAIT_MS", ge=0)
    # A command consumer commits its offsets at most this often (0: after every command);
    # what a crash leaves uncommitted is redelivered and answered by the inbox.
    kafka_commit_interval_ms: int = Field(
        default=200, alias="INTAKE_KAFKA_COMMIT_INTERVAL_MS", ge=0, le=5000
    )
    # A prefix on every topic and consumer group: several systems can share one Kafka.
    namespace: str = Field(default="", alias="INTAKE_NAMESPACE", pattern=NAMESPACE_PATTERN)
    # Who this process is to Kafka, and how it talks to it: production needs SASL over TLS.
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        default="PLAINTEXT", alias="KAFKA_SECURITY_PROTOCOL"
    )
    kafka_sasl_mechanism: KafkaSaslMechanism = Field(
        default="SCRAM-SHA-512", alias="KAFKA_SASL_MECHANISM"
    )
    kafka_sasl_username: str | None = Field(default=None, alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: str | None = Field(default=None, alias="KAFKA_SASL_PASSWORD", repr=False)
    # The CA the brokers' certificates are checked against; unset = the system's trust store.
    kafka_ssl_cafile: str | None = Field(default=None, alias="KAFKA_SSL_CAFILE")

    @property
    def kafka_sasl(self) -> bool:
        return self.kafka_security_protocol.startswith("SASL_")

    def refusals(self) -> list[str]:
        problems = super().refusals()
        if self.kafka_sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            problems.append(
                f"KAFKA_SASL_USERNAME: {self.kafka_security_protocol} needs"
                " KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if self.kafka_ssl_cafile and not Path(self.kafka_ssl_cafile).is_file():
            problems.append(f"KAFKA_SSL_CAFILE: {self.kafka_ssl_cafile} is not a readable file")
        if self.production and self.kafka_security_protocol != "SASL_SSL":
            problems.append(
                f"KAFKA_SECURITY_PROTOCOL: {self.kafka_security_protocol} in production;"
                " Kafka must be SASL_SSL (authenticated and encrypted)"
            )
        return problems


# Command handlers one process runs at once, across the partitions of its command topic.
CommandWorkers = Annotated[int, Field(alias="INTAKE_COMMAND_WORKERS", ge=1, le=64)]
# Connect and read timeout of every S3 call.
S3TimeoutS = Annotated[float, Field(alias="INTAKE_S3_TIMEOUT_S", gt=0)]


class PostgresSettings(IntakeSettings):
    # LOCAL DEVELOPMENT ONLY; production sets its own URL and role per service.
    database_url: str | None = local_only(
        "postgresql://intake:intake@127.0.0.1:15432/intake", alias="DATABASE_URL"
    )
    db_pool_min: int = Field(default=2, alias="INTAKE_DB_POOL_MIN", ge=1)
    db_pool_max: int = Field(default=10, alias="INTAKE_DB_POOL_MAX", ge=1)
    db_command_timeout_s: float = Field(default=10.0, alias="INTAKE_DB_COMMAND_TIMEOUT_S", gt=0)

    def refusals(self) -> list[str]:
        problems = super().refusals()
        if self.database_url is None:
            problems.append("DATABASE_URL: required in production")
        return problems


# Browsers on these origins may call the gateway and PUT to the buckets: the gateway's
# default origin plus the usual local development servers.
DEFAULT_CORS_ORIGINS = ",".join(
    f"http://{host}:{port}" for port in (8000, 3000, 5173) for host in ("127.0.0.1", "localhost")
)


class CorsSettings(IntakeSettings):
    """Which web origins may use Intake from a browser (gateway CORS and bucket CORS rule)."""

    cors_origins: str = Field(default=DEFAULT_CORS_ORIGINS, alias="INTAKE_CORS_ORIGINS")

    @property
    def cors_origin_list(self) -> list[str]:
        """The comma-separated origins, without blanks or trailing slashes."""
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]


class S3Settings(CorsSettings):
    # Unset = AWS's own endpoints; LOCAL DEVELOPMENT ONLY default: the native stack's S3.
    aws_endpoint_url: str | None = local_only("http://127.0.0.1:18333", alias="AWS_ENDPOINT_URL")
    aws_region: str = Field(default="us-east-1", alias="AWS_REGION")
    # Unset = the default AWS credential chain (IAM role, profile, …). LOCAL DEVELOPMENT ONLY
    # defaults of the native stack, never valid anywhere else.
    aws_access_key_id: str | None = local_only("intake-dev-access-key", alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: str | None = local_only(
        "intake-dev-secret-key", alias="AWS_SECRET_ACCESS_KEY"
    )
    aws_bucket: str = Field(default="intake-uploads", alias="AWS_BUCKET")
    # The account that must own every bucket Intake touches; S3 refuses a call otherwise.
    aws_expected_bucket_owner: str | None = Field(default=None, alias="AWS_EXPECTED_BUCKET_OWNER")
    storage_provision_strategy: Literal["shared", "per_tenant"] = Field(
        default="shared", alias="STORAGE_PROVISION_STRATEGY"
    )
    s3_timeout_s: S3TimeoutS = 10.0

    def refusals(self) -> list[str]:
        problems = super().refusals()
        if (self.aws_access_key_id is None) != (self.aws_secret_access_key is None):
            problems.append(
                "AWS_ACCESS_KEY_ID: set together with AWS_SECRET_ACCESS_KEY, or neither "
                "(the default credential chain)"
            )
        bucket_problem = (
            per_tenant_bucket_problem(self.aws_bucket)
            if self.storage_provision_strategy == "per_tenant"
            else bucket_name_problem(self.aws_bucket)
        )
        if bucket_problem:
            problems.append(f"AWS_BUCKET: {bucket_problem}")
        return problems


def load_settings(settings_class: type[S], service: str) -> S:
    """Build the settings or stop the process with one clear line per problem."""
    try:
        settings = settings_class()
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc']).upper()}: {problem['msg']}"
            for problem in error.errors()
        ]
    else:
        problems = settings.refusals()
        if not problems:
            return settings
    for problem in problems:
        sys.stderr.write(f"intake-{service}: configuration error: {problem}\n")
    raise SystemExit(2)
