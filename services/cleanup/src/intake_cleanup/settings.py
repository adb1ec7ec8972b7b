"""The cleanup service's one configuration object: thresholds, schedules and concurrency."""

from typing import Final

from pydantic import AliasChoices, Field

from intake_runtime.settings import CommandWorkers, PostgresSettings, S3Settings, ServiceSettings

SERVICE: Final = "cleanup"
SCHEMA: Final = "cleanup"
HOUR = 3600
DAY = 24 * HOUR
# Kafka's default topic retention (7 days, `log.retention.hours=168`, which the stack and the
# manifests keep): the longest a command or event can be redelivered. Pruning of inbox rows
# and `seen_events` must wait it out, or a redelivery would run a second time.
REDELIVERY_WINDOW_S = 7 * DAY


class CleanupSettings(ServiceSettings, PostgresSettings, S3Settings):
    # "off" disables the in-process scheduler (tests, or a deployment using an external cron).
    schedule: str = Field(default="on", alias="INTAKE_CLEANUP_SCHEDULE", pattern="^(on|off)$")
    first_run_delay_s: float = Field(default=60.0, alias="INTAKE_CLEANUP_FIRST_RUN_DELAY_S", ge=0)
    abandoned_every_s: float = Field(default=HOUR, alias="INTAKE_ABANDONED_EVERY_S", gt=0)
    expire_every_s: float = Field(default=6 * HOUR, alias="INTAKE_EXPIRE_EVERY_S", gt=0)
    orphan_temp_every_s: float = Field(default=6 * HOUR, alias="INTAKE_ORPHAN_TEMP_EVERY_S", gt=0)
    orphan_multipart_every_s: float = Field(
        default=6 * HOUR, alias="INTAKE_ORPHAN_MULTIPART_EVERY_S", gt=0
    )
    reconcile_every_s: float = Field(default=6 * HOUR, alias="INTAKE_RECONCILE_EVERY_S", gt=0)
    prune_sessions_every_s: float = Field(
        default=6 * HOUR, alias="INTAKE_PRUNE_SESSIONS_EVERY_S", gt=0
    )
    sweep_reply_topics_every_s: float = Field(
        default=HOUR, alias="INTAKE_SWEEP_REPLY_TOPICS_EVERY_S", gt=0
    )

    abandoned_after_s: float = Field(default=HOUR, alias="INTAKE_ABANDONED_AFTER_S", ge=0)
    # A temp object is only removed once no client could still be writing it; a day matches
    # the session lifetime, so even a session unknown to the index has surely ended.
    orphan_temp_after_s: float = Field(default=24 * HOUR, alias="INTAKE_ORPHAN_TEMP_AFTER_S", ge=0)
    orphan_multipart_after_s: float = Field(
        default=24 * HOUR, alias="INTAKE_ORPHAN_MULTIPART_AFTER_S", ge=0
    )
    # Long enough that a completion still promoting its object is not completed twice at once.
    reconcile_after_s: float = Field(default=5 * 60, alias="INTAKE_RECONCILE_AFTER_S", ge=0)

    # Terminal sessions, their saga and index rows, inbox rows, published outbox rows,
    # `seen_events` and job runs are kept this long after they last changed, then deleted.
    # INTAKE_RETENTION_S is the deprecated spelling, still read so deployed configs keep working.
    prune_after_s: float = Field(
        default=30 * DAY,
        alias="INTAKE_PRUNE_AFTER_S",
        validation_alias=AliasChoices("INTAKE_PRUNE_AFTER_S", "INTAKE_RETENTION_S"),
        gt=REDELIVERY_WINDOW_S,
    )
    # A reply topic is deleted once seen without a live consumer for this long: longer than an
    # instance takes from creating its topic to joining its presence group.
    reply_topic_grace_s: float = Field(default=10 * 60, alias="INTAKE_REPLY_TOPIC_GRACE_S", ge=0)

    # Comma-separated tenants the scheduled session jobs (abandoned, expired, reconcile) are
    # limited to; empty: every tenant. For a test run or soak sharing a database with others.
    tenants: str = Field(default="", alias="INTAKE_CLEANUP_TENANTS")

    s3_concurrency: int = Field(default=32, alias="INTAKE_CLEANUP_S3_CONCURRENCY", ge=1, le=256)
    command_concurrency: int = Field(
        default=16, alias="INTAKE_CLEANUP_COMMAND_CONCURRENCY", ge=1, le=128
    )
    batch_limit: int = Field(default=1000, alias="INTAKE_CLEANUP_BATCH_LIMIT", ge=1)
    command_workers: CommandWorkers = 2

    @property
    def tenant_scope(self) -> list[str]:
        """INTAKE_CLEANUP_TENANTS as a list (empty: every tenant)."""
        return [tenant.strip() for tenant in self.tenants.split(",") if tenant.strip()]
