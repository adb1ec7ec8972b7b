"""Building blocks every service's composition root assembles, each one closing itself."""

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from faststream.kafka import KafkaBroker

from intake_runtime.health import HealthServer, ReadinessCheck
from intake_runtime.messaging import kafka
from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.messaging.requests import RequestReplyClient
from intake_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def kafka_broker(settings: ServiceSettings, service: str) -> AsyncIterator[KafkaBroker]:
    """A broker for `service` once Kafka answers and every shared topic exists. On a Kafka
    with ACLs a service may not create them: `intake-ops provision-topics`, run as the
    deployment's admin principal, creates them with their ACLs before the services start."""
    access = KafkaAccess.of(settings)
    await kafka.wait_for_kafka(access)
    if not access.sasl:
        await kafka.provision_shared_topics(
            access, settings.topic_partitions, settings.topic_replication
        )
    broker = kafka.build_broker(settings, service)
    try:
        yield broker
    finally:
        await broker.stop()


@contextlib.asynccontextmanager
async def reply_client(
    settings: ServiceSettings, broker: KafkaBroker, service: str
) -> AsyncIterator[RequestReplyClient]:
    """This instance's own reply topic, listening before any request can be sent."""
    client = RequestReplyClient(
        broker,
        access=KafkaAccess.of(settings),
        service=service,
        instance_id=settings.instance_id,
        timeout_s=settings.request_timeout_s,
        publish_timeout_s=settings.publish_timeout_s,
        fetch_wait_ms=settings.kafka_fetch_wait_ms,
    )
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


@contextlib.asynccontextmanager
async def health_server(
    settings: ServiceSettings, ready: ReadinessCheck
) -> AsyncIterator[HealthServer]:
    server = HealthServer(settings.metrics_host, settings.metrics_port, ready)
    await server.start()
    log.info("health endpoint up", extra={"port": server.port})
    try:
        yield server
    finally:
        await server.stop()


class _Database(Protocol):
    async def fetchval(self, query: str) -> object: ...


def readiness(
    broker: KafkaBroker,
    *,
    database: _Database | None = None,
    replies: RequestReplyClient | None = None,
) -> ReadinessCheck:
    """Ready = the broker answers, the database answers, and replies can be received."""

    async def ready() -> bool:
        if replies is not None and not replies.assigned.is_set():
            return False
        if database is not None and not await database.fetchval("SELECT 1"):
            return False
        return bool(await broker.ping(timeout=2.0))

    return ready


def package_dir(module_file: str, name: str) -> Path:
    return Path(module_file).resolve().parent / name
