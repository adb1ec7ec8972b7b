"""Kafka clients with Intake's settings: idempotent producer, low latency, explicit topics."""

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Final, TypedDict

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.message import StreamMessage

from intake_contracts import topics
from intake_runtime.messaging import names
from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.settings import ServiceSettings
from intake_runtime.telemetry import tracing_on

log = logging.getLogger(__name__)


class ConsumerOptions(TypedDict, total=False):
    fetch_max_wait_ms: int
    fetch_min_bytes: int
    session_timeout_ms: int
    heartbeat_interval_ms: int


# A short session lets the group hand a killed consumer's partitions on within seconds (the
# broker's minimum); every consumer of ours, the reply consumers included, uses it.
SESSION_TIMEOUT_MS: Final = 6_000
HEARTBEAT_INTERVAL_MS: Final = 1_500


def consumer_options(settings: ServiceSettings) -> ConsumerOptions:
    """Every subscriber's consumer. The broker answers a waiting fetch as soon as one byte
    arrives, so a long fetch wait (INTAKE_KAFKA_FETCH_WAIT_MS) costs no latency, while a 10 ms
    one made every idle consumer poll a hundred times a second (measured: a fifth of a core per
    idle service)."""
    return {
        "fetch_max_wait_ms": settings.kafka_fetch_wait_ms,
        "session_timeout_ms": SESSION_TIMEOUT_MS,
        "heartbeat_interval_ms": HEARTBEAT_INTERVAL_MS,
    }


def event_consumer_options(settings: ServiceSettings) -> ConsumerOptions:
    """Event consumers (audit, cleanup's index) need no low latency: the broker holds their
    fetch until 64 KiB of events or the fetch wait has passed, so that a busy system hands them
    batches of tens of events (one transaction and one offset commit each) rather than one event
    per fetch, which cost more CPU in the Kafka client than in the consumer's own work."""
    return {**consumer_options(settings), "fetch_min_bytes": 64 * 1024}


async def undecoded(message: StreamMessage[Any]) -> StreamMessage[Any]:
    """A subscriber's decoder that hands the handler FastStream's message itself.

    Our handlers decode envelopes themselves, so FastStream's own decoding parsed every JSON
    body once for nothing; and a handler that asked for the message through its
    `KafkaMessage` annotation (a Context field) had fast_depends resolve it in a worker thread,
    a thread hand-off per message (py-spy: the thread pool's queue and condition in every
    service's profile)."""
    return message


def build_broker(settings: ServiceSettings, service: str) -> KafkaBroker:
    """A broker whose every publish is idempotent and acknowledged by all in-sync replicas."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=KafkaAccess.of(settings).security(),
        client_id=f"intake-{service}-{settings.instance_id}",
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.kafka_linger_ms,
        request_timeout_ms=int(settings.request_timeout_s * 1000),
        allow_auto_create_topics=False,
        middlewares=(KafkaTelemetryMiddleware(),) if tracing_on() else (),
        logger=logging.getLogger(f"intake.{service}.broker"),
        # FastStream's "Received"/"Processed" lines, two per message in every consumer, at
        # DEBUG: on the hot path they were most of every service's log volume. Failures are
        # still logged at their own level.
        log_level=logging.DEBUG,
        graceful_timeout=10.0,
    )


async def admin_client(access: KafkaAccess) -> AIOKafkaAdminClient:
    """A started admin client; the caller closes it."""
    admin = AIOKafkaAdminClient(**access.client_options(), request_timeout_ms=10_000)
    await admin.start()
    return admin


async def ensure_topics(
    access: KafkaAccess, names: Iterable[str], partitions: int, replication: int = 1
) -> None:
    """Create the topics that are missing; existing ones are left exactly as they are."""
    admin = await admin_client(access)
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if not missing:
            return
        new_topics = [NewTopic(name, partitions, replication) for name in missing]
        try:
            await admin.create_topics(new_topics)
        except TopicAlreadyExistsError:
            log.info("topics created concurrently by another process", extra={"topics": missing})
        log.info("topics created", extra={"topics": missing, "partitions": partitions})
    finally:
        await admin.close()


async def provision_shared_topics(
    access: KafkaAccess, partitions: int, replication: int = 1
) -> None:
    shared = [names.topic(topic) for topic in topics.SHARED_TOPICS]
    await ensure_topics(access, shared, partitions, replication)
    # Dead letters are rare and read in order by an operator: one partition each.
    dead_letters = [names.topic(topic) for topic in topics.DEAD_LETTER_TOPICS]
    await ensure_topics(access, dead_letters, 1, replication)


async def delete_topic(access: KafkaAccess, name: str) -> None:
    """Best effort: a reply topic left behind by a crash is harmless, only untidy."""
    try:
        admin = await admin_client(access)
        try:
            await admin.delete_topics([name])
        finally:
            await admin.close()
    except (TimeoutError, KafkaError, OSError) as error:
        log.warning("reply topic not deleted", extra={"topic": name, "error": str(error)})


async def wait_for_kafka(access: KafkaAccess, deadline_s: float = 60.0) -> None:
    """Block start-up until the broker answers, so a service never starts half-connected."""
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + deadline_s
    while True:
        try:
            admin = await admin_client(access)
            await admin.close()
        except (KafkaError, OSError) as error:
            if loop.time() > stop_at:
                where = access.bootstrap_servers
                raise RuntimeError(f"Kafka at {where} unreachable: {error}") from error
            await asyncio.sleep(0.5)
        else:
            return
