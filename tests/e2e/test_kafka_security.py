"""Kafka as the secured stack runs it: SASL/SCRAM over TLS, one principal per process, ACLs
that grant each only what it needs, and services that refuse a principal unfit for the topic."""

import ssl
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from scripts import subscriber_example

from intake_contracts import topics
from intake_contracts.commands import Commands, SessionRef
from intake_contracts.envelope import Principal
from intake_runtime.messaging import acls, names
from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.messaging.envelopes import command_envelope, encode
from tests.conftest import Caller, System
from tests.support import stack
from tests.support.api import initiate
from tests.support.metrics import metric
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def principal_env(principal: str) -> dict[str, str]:
    return stack.stack_principals.stack_env(principal=principal)


def access_of(principal: str, **changed: str) -> KafkaAccess:
    return KafkaAccess.from_env({**principal_env(principal), **changed})


@pytest.fixture
async def gateway_producer() -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(**access_of("gateway").client_options(), request_timeout_ms=10_000)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def connects(options: dict[str, Any]) -> bool:
    producer = AIOKafkaProducer(**options, request_timeout_ms=5_000)
    try:
        await producer.start()
    except KafkaConnectionError:
        return False
    finally:
        await producer.stop()
    return True


async def test_an_anonymous_client_or_a_wrong_password_cannot_connect(
    stack_env: dict[str, str],
) -> None:
    bootstrap = stack_env["KAFKA_BOOTSTRAP_SERVERS"]
    assert await connects(access_of("gateway").client_options()), "the right password does"
    # Plain TCP to the TLS listener, TLS without a login, and a login with a wrong password.
    assert not await connects({"bootstrap_servers": bootstrap})
    context = ssl.create_default_context(cafile=stack_env["KAFKA_SSL_CAFILE"])
    assert not await connects(
        {"bootstrap_servers": bootstrap, "security_protocol": "SSL", "ssl_context": context}
    )
    wrong = access_of("gateway", KAFKA_SASL_PASSWORD=uuid.uuid4().hex)
    assert not await connects(wrong.client_options())
    unknown = access_of("gateway", KAFKA_SASL_USERNAME=f"nobody-{uuid.uuid4().hex[:6]}")
    assert not await connects(unknown.client_options())


async def test_the_gateway_cannot_send_a_service_only_command(
    system: System, gateway_producer: AIOKafkaProducer
) -> None:
    del system  # the namespace's topics and ACLs
    principal = Principal(user_id="u-1", tenant_id="t-1", service="completion")
    forged = command_envelope(
        Commands.MARK_COMPLETED.name,
        SessionRef(upload_session_id=uuid.uuid4()),
        correlation_id="forged",
        principal=principal,
    )
    for topic in topics.SERVICE_COMMAND_TOPICS:
        with pytest.raises(TopicAuthorizationFailedError):
            await gateway_producer.send_and_wait(names.topic(topic), encode(forged))
    for topic in (topics.UPLOAD_EVENTS, topics.dead_letter_topic(topics.INITIATION_COMMANDS)):
        with pytest.raises(TopicAuthorizationFailedError):
            await gateway_producer.send_and_wait(names.topic(topic), b"{}")


async def test_a_forged_service_principal_on_a_user_topic_is_refused_and_counted(
    system: System, gateway_producer: AIOKafkaProducer
) -> None:
    """What the gateway's credentials can still do: claim the service role in a command on a
    topic they may write. The service refuses it, counts it, and parks it for an operator."""
    metrics_url = system.processes["initiation"].url("/metrics")
    refused = "intake_refused_envelopes_total"
    labels = {"service": "initiation", "topic": topics.INITIATION_COMMANDS}
    before = await metric(metrics_url, refused, **labels)
    session_id = uuid.uuid4()
    forged = command_envelope(
        Commands.CANCEL.name,
        SessionRef(upload_session_id=session_id),
        correlation_id="forged",
        principal=Principal(user_id="system:cleanup", tenant_id="t-1", service="cleanup"),
    )
    await gateway_producer.send_and_wait(
        names.topic(topics.INITIATION_COMMANDS), encode(forged), key=str(session_id).encode()
    )
    await eventually(lambda: metric(metrics_url, refused, **labels), lambda n: n == before + 1)
    dead_letters = "intake_dead_letters_total"
    group = names.group(topics.CONSUMER_GROUPS["initiation"])
    source = names.topic(topics.INITIATION_COMMANDS)
    assert await metric(metrics_url, dead_letters, group=group, topic=source) >= 1


async def test_a_reply_topic_is_written_only_by_the_services_that_answer_its_owner(
    system: System,
) -> None:
    """A service cannot put a reply in front of a caller it never answers: audit answers only
    the gateway, cleanup only `ops`, initiation everyone but `ops`, completion the gateway and
    cleanup. (That each writes the reply topics it must, every request of the suite shows.)"""

    def replies_of(process: str) -> str:
        instance = system.processes[process].instance_path.read_text()
        return names.topic(topics.reply_topic(process, instance))

    ops_replies = names.topic(topics.reply_topic("ops", uuid.uuid4().hex[:8]))
    refused = {
        "audit": [replies_of("completion"), replies_of("cleanup"), ops_replies],
        "cleanup": [replies_of("gateway"), replies_of("completion"), replies_of("cleanup")],
        "completion": [replies_of("completion"), ops_replies],
        "initiation": [ops_replies],
    }
    for principal, reply_topics in refused.items():
        producer = AIOKafkaProducer(
            **access_of(principal).client_options(), request_timeout_ms=10_000
        )
        await producer.start()
        try:
            for topic in reply_topics:
                with pytest.raises(TopicAuthorizationFailedError):
                    await producer.send_and_wait(topic, b"{}")
        finally:
            await producer.stop()


async def test_a_consumer_group_is_joined_only_by_its_own_principal(system: System) -> None:
    """Each principal below may read the topic, but not in another principal's group: it could
    neither take over that service's partitions nor move its offsets."""
    del system  # the namespace's topics and ACLs
    events = names.topic(topics.UPLOAD_EVENTS)
    others = {
        "subscriber": topics.CONSUMER_GROUPS["audit"],
        "audit": topics.CONSUMER_GROUPS["cleanup"],
        "cleanup": f"{acls.SUBSCRIBER_GROUP_PREFIX}-example",
    }
    for principal, group in others.items():
        consumer = AIOKafkaConsumer(
            events, group_id=names.group(group), **access_of(principal).client_options()
        )
        try:
            with pytest.raises(GroupAuthorizationFailedError):
                await consumer.start()  # joining the group is the first thing it does
        finally:
            await consumer.stop()


async def invisible(access: KafkaAccess, topic: str) -> bool:
    """Whether the broker refuses `access` even the topic's metadata (DESCRIBE, which READ
    would imply): a consumer could not find its partitions, let alone fetch them."""
    client = AIOKafkaClient(**access.client_options())
    await client.bootstrap()
    try:
        client.set_topics([topic])
        await client.force_metadata_update()
        return topic in client.cluster.unauthorized_topics
    finally:
        await client.close()


async def test_the_subscriber_reads_events_and_nothing_else(
    system: System, api: httpx.AsyncClient, caller: Caller
) -> None:
    env = {**principal_env("subscriber"), "INTAKE_NAMESPACE": names.namespace()}
    seen: list[dict[str, Any]] = []

    async def collect(envelope: dict[str, Any]) -> None:
        seen.append(envelope)

    async def events_of(session_id: str) -> list[dict[str, Any]]:
        return [e for e in seen if e["payload"].get("upload_session_id") == session_id]

    broker = subscriber_example.subscriber(env, collect)
    async with broker:
        await broker.start()
        session = await initiate(api, caller, 1000)
        mine = await eventually(lambda: events_of(session["upload_session_id"]), timeout_s=30)
    assert mine[0]["type"] == "upload.initiated"
    assert mine[0]["tenant_id"] == caller.tenant_id

    subscriber = access_of("subscriber")
    producer = AIOKafkaProducer(**subscriber.client_options(), request_timeout_ms=10_000)
    await producer.start()
    try:
        for topic in (topics.UPLOAD_EVENTS, topics.INITIATION_COMMANDS, topics.AUDIT_QUERIES):
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.send_and_wait(names.topic(topic), b"{}")
    finally:
        await producer.stop()
    gateway_instance = system.processes["gateway"].instance_path.read_text()
    gateway_replies = names.topic(topics.reply_topic("gateway", gateway_instance))
    dead_letters = names.topic(topics.dead_letter_topic(topics.UPLOAD_EVENTS))
    assert not await invisible(subscriber, names.topic(topics.UPLOAD_EVENTS))
    assert await invisible(subscriber, gateway_replies)
    assert await invisible(subscriber, dead_letters)
    assert await invisible(subscriber, names.topic(topics.INITIATION_COMMANDS))
