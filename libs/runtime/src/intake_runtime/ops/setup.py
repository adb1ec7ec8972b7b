"""What a deployment runs once before rolling the services out: one service's migrations, or
the shared topics. The services do both at start-up too, so skipping them is harmless."""

import importlib
from pathlib import Path
from typing import Final

from intake_runtime.messaging import kafka
from intake_runtime.settings import PostgresSettings, ServiceSettings

# The services owning a Postgres schema; each package `intake_<service>` keeps its SQL in
# `migrations/` and its schema name in `intake_<service>.settings.SCHEMA`.
MIGRATING_SERVICES: Final = ("initiation", "completion", "cleanup", "audit")


def service_migrations(service: str) -> tuple[str, Path]:
    """The schema and the migrations folder of `service`."""
    if service not in MIGRATING_SERVICES:
        raise SystemExit(f"intake-ops: {service!r} has no database schema")
    package = importlib.import_module(f"intake_{service}")
    settings = importlib.import_module(f"intake_{service}.settings")
    return str(settings.SCHEMA), Path(str(package.__file__)).parent / "migrations"


async def migrate_service(settings: PostgresSettings, service: str) -> list[str]:
    """What the service does at start-up before it consumes anything, and nothing else."""
    # Imported here: without the runtime's postgres extra, the dead-letter commands still work.
    from intake_runtime.postgres.lifecycle import migrate_only  # noqa: PLC0415

    schema, directory = service_migrations(service)
    return await migrate_only(settings, schema, directory)


async def provision_topics(settings: ServiceSettings) -> None:
    await kafka.wait_for_kafka(settings.kafka_bootstrap_servers)
    await kafka.provision_shared_topics(
        settings.kafka_bootstrap_servers, settings.topic_partitions, settings.topic_replication
    )
