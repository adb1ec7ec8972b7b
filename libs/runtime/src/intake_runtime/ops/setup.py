"""What a deployment runs once before rolling the services out: one service's migrations, or
the shared topics with their ACLs. The services migrate at start-up too, and create the topics
on a Kafka without SASL; on one with ACLs, `provision-topics` must run first."""

import importlib
from pathlib import Path
from typing import Final

from intake_runtime.messaging import acls, kafka
from intake_runtime.messaging.access import KafkaAccess
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
    """The shared topics, and on a Kafka with SASL every principal's ACLs (acls.py): run as
    the deployment's admin principal."""
    access = KafkaAccess.of(settings)
    await kafka.wait_for_kafka(access)
    await kafka.provision_shared_topics(
        access, settings.topic_partitions, settings.topic_replication
    )
    if access.sasl:
        await acls.grant(access, acls.grants(settings.namespace))
