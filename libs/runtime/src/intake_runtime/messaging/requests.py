"""Request/reply over Kafka: commands out, replies back on this instance's own reply topic.

FastStream has no Kafka RPC, so the caller side lives here: every request registers a future
keyed by its correlation id and an aiokafka consumer resolves it. That consumer is the only
member of a group named like its reply topic: the group's membership is how cleanup tells a
live instance's reply topic from a dead one's (see `reply_topic_is_live`), since a consumer
without a group is invisible to the broker. Every await has a deadline.
"""

import asyncio
import contextlib
import logging
import uuid
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError, MessageSizeTooLargeError
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from intake_contracts import topics
from intake_contracts.commands import CommandSpec
from intake_contracts.envelope import Principal
from intake_contracts.replies import Reply
from intake_runtime import metrics
from intake_runtime.messaging import kafka, names
from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.messaging.envelopes import command_envelope, decode, encode
from intake_runtime.tasks import stop_task

log = logging.getLogger(__name__)

Req = TypeVar("Req", bound=BaseModel)
Res = TypeVar("Res", bound=BaseModel)


class ReplyTimeoutError(TimeoutError):
    """No reply within the deadline; the command may still run, and retrying it is safe."""


class BrokerUnavailableError(ConnectionError):
    """The command could not be handed to Kafka."""


class CommandTooLargeError(ValueError):
    """The command exceeds Kafka's message size: retrying can never succeed."""


class RequestReplyClient:
    def __init__(
        self,
        broker: KafkaBroker,
        *,
        access: KafkaAccess,
        service: str,
        instance_id: str,
        timeout_s: float,
        publish_timeout_s: float,
        fetch_wait_ms: int,
    ) -> None:
        """`timeout_s`, `publish_timeout_s` and `fetch_wait_ms` are the settings'
        INTAKE_REQUEST_TIMEOUT_S, INTAKE_PUBLISH_TIMEOUT_S and INTAKE_KAFKA_FETCH_WAIT_MS
        (bootstrap.reply_client); they have no defaults of their own here."""
        self._broker = broker
        self._access = access
        self._timeout_s = timeout_s
        self._publish_timeout_s = publish_timeout_s
        self._fetch_wait_ms = fetch_wait_ms
        self.reply_topic = names.topic(topics.reply_topic(service, instance_id))
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.assigned = asyncio.Event()
        self._positions: dict[TopicPartition, int] = {}

    async def start(self, join_timeout_s: float = 60.0) -> None:
        await kafka.ensure_topics(self._access, [self.reply_topic], partitions=1)
        self._consumer = AIOKafkaConsumer(
            **self._access.client_options(),
            # The presence group: this consumer is its only member while the process lives.
            group_id=self.reply_topic,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=self._fetch_wait_ms,
            session_timeout_ms=kafka.SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=kafka.HEARTBEAT_INTERVAL_MS,
        )
        await self._consumer.start()
        async with asyncio.timeout(join_timeout_s):
            await self._until_partition_known(self._consumer)
            self._consumer.subscribe([self.reply_topic], listener=_KeepPosition(self))
            self._task = asyncio.create_task(self._consume(), name="reply-consumer")
            # The position is resolved on assignment: no reply sent after start() is skipped.
            await self.assigned.wait()

    async def _until_partition_known(self, consumer: AIOKafkaConsumer) -> None:
        """A group joined before the broker's metadata lists the new topic's partition gets no
        assignment, and would wait for the next metadata refresh (minutes) to get one."""
        while True:
            cluster = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - no public API
            if cluster.partitions_for_topic(self.reply_topic):
                return
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        self.assigned.clear()
        await stop_task(self._task)
        if self._consumer is not None:
            await self._consumer.stop()
        for future in self._pending.values():
            future.cancel()
        await kafka.delete_topic(self._access, self.reply_topic)

    async def request(
        self,
        topic: str,
        command_type: str,
        payload: BaseModel,
        *,
        principal: Principal | None,
        key: str | None = None,
        timeout_s: float | None = None,
        message_id: uuid.UUID | None = None,
    ) -> Reply:
        """Send one command and await its reply.

        Raises:
            BrokerUnavailableError: Kafka did not take the command.
            CommandTooLargeError: the command is larger than Kafka accepts.
            ReplyTimeoutError: no reply arrived before the deadline.
        """
        correlation_id = uuid.uuid4().hex
        envelope = command_envelope(
            command_type,
            payload,
            correlation_id=correlation_id,
            principal=principal,
            message_id=message_id,
        )
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        deadline = timeout_s or self._timeout_s
        try:
            async with asyncio.timeout(deadline):
                await self._publish(topic, encode(envelope), key, correlation_id)
                return await future
        except TimeoutError as error:
            metrics.observe_reply_timeout(command_type)
            raise ReplyTimeoutError(f"no reply to {command_type} within {deadline}s") from error
        finally:
            self._pending.pop(correlation_id, None)

    async def _publish(self, topic: str, body: bytes, key: str | None, correlation_id: str) -> None:
        try:
            async with asyncio.timeout(self._publish_timeout_s):
                await self._broker.publish(
                    body,
                    names.topic(topic),
                    key=key.encode() if key else None,
                    correlation_id=correlation_id,
                    reply_to=self.reply_topic,
                    headers={"content-type": "application/json"},
                )
        except MessageSizeTooLargeError as error:
            raise CommandTooLargeError(f"{len(body)} bytes is more than Kafka takes") from error
        except (KafkaError, OSError, TimeoutError) as error:
            raise BrokerUnavailableError(str(error)) from error

    async def _on_assigned(self, partitions: set[TopicPartition]) -> None:
        """The first assignment starts at the end; a later one (after the broker dropped and
        re-admitted this member) where the last one stopped, so no reply is skipped."""
        assert self._consumer is not None  # noqa: S101 - start() set it
        for partition in partitions:
            if partition in self._positions:
                self._consumer.seek(partition, self._positions[partition])
            else:
                await self._consumer.seek_to_end(partition)
            await self._consumer.position(partition)
        if partitions:
            self.assigned.set()

    async def _on_revoked(self, partitions: set[TopicPartition]) -> None:
        assert self._consumer is not None  # noqa: S101 - start() set it
        for partition in partitions:
            with contextlib.suppress(KafkaError, AssertionError, IllegalStateError):
                self._positions[partition] = await self._consumer.position(partition)

    async def _consume(self) -> None:
        assert self._consumer is not None  # noqa: S101 - start() set it
        async for record in self._consumer:
            self._resolve(record.headers, record.value)

    def _resolve(self, headers: Any, value: bytes | None) -> None:
        correlation_id = next((v.decode() for k, v in headers or () if k == "correlation_id"), None)
        future = self._pending.get(correlation_id or "")
        if future is None or future.done() or value is None:
            return  # a late or duplicated reply: its caller has already moved on
        try:
            future.set_result(Reply.model_validate(decode(value).payload))
        except ValueError as error:
            future.set_exception(error)


async def call(
    client: RequestReplyClient,
    command: CommandSpec[Req, Res],
    payload: Req,
    *,
    principal: Principal,
    key: str | None = None,
    timeout_s: float | None = None,
) -> Res:
    """One typed command to the service that owns it, on its user or service-command topic as
    the principal is a user or a service (topics.command_topic): mypy checks the payload and
    the result against the command's models.

    Raises:
        DomainError: the service refused (Reply.unwrap).
        TransientError: the service answered that a dependency was down or slow.
        BrokerUnavailableError, CommandTooLargeError, ReplyTimeoutError: as `request`.
    """
    reply = await client.request(
        topics.command_topic(command.name, by_service=principal.service is not None),
        command.name,
        payload,
        principal=principal,
        key=key,
        timeout_s=timeout_s,
    )
    return reply.unwrap(command.result)


class _KeepPosition(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, client: RequestReplyClient) -> None:
        self._client = client

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._client._on_revoked(revoked)  # noqa: SLF001 - the client's own listener

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._client._on_assigned(assigned)  # noqa: SLF001
