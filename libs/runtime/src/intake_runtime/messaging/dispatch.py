"""Command dispatch: decode the envelope, run the use case once, answer with a reply envelope."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel, ValidationError

from intake_contracts.commands import CommandSpec
from intake_contracts.envelope import Envelope, Principal
from intake_contracts.errors import DomainError, ErrorBody, ErrorCode, TransientError
from intake_contracts.replies import REPLY_TYPE, Reply
from intake_runtime import metrics
from intake_runtime.logs import session_in_scope, tenant_in_scope
from intake_runtime.messaging import kafka, names
from intake_runtime.messaging.commits import OffsetCommitter
from intake_runtime.messaging.dead_letters import DeadLetters, is_transient
from intake_runtime.messaging.envelopes import decode, encode
from intake_runtime.messaging.senders import sender_refusal
from intake_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

# How a handler hands the dispatcher work to start once the command's reply is sent.
AfterReply = Callable[[Callable[[], object]], None]


def run_now(callback: Callable[[], object]) -> None:
    """The `after_reply` of a command no subscriber is handling (a test's direct dispatch, a
    background task): there is no reply to wait for."""
    callback()


def _run_after_reply(waiting: list[Callable[[], object]]) -> None:
    for callback in waiting:
        try:
            callback()
        except Exception:  # one callback's failure must not stop the others or the consumer
            log.exception("work after the reply failed to start")


Tx = TypeVar("Tx")
Tx_co = TypeVar("Tx_co", covariant=True)
P_co = TypeVar("P_co", bound=BaseModel, covariant=True)
Req = TypeVar("Req", bound=BaseModel)
Res = TypeVar("Res", bound=BaseModel)


@dataclass(frozen=True)
class Command(Generic[P_co]):
    """A decoded command: who asks, for which tenant, and what."""

    envelope: Envelope
    payload: P_co
    # Starts work once the reply to this command is sent (or failed to send), so background
    # work a handler starts (a promotion) does not take the loop from the reply.
    after_reply: AfterReply = run_now

    @property
    def principal(self) -> Principal:
        if self.envelope.principal is None:
            raise DomainError(ErrorCode.UNAUTHENTICATED, "command carries no principal")
        return self.envelope.principal

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id


Handler = Callable[[Command[Req], Tx], Awaitable[Res]]


@dataclass(frozen=True)
class _Registered(Generic[Tx]):
    """A handler as the dispatcher keeps it: typed at registration, decoded by `request`."""

    request: type[BaseModel]
    handler: Handler[Any, Tx, BaseModel]
    inbox: bool


class Dispatched(NamedTuple):
    """The encoded reply, and why the command must be parked as a dead letter, if it must."""

    reply: bytes
    poison: str | None = None


class TransactionRunner(Protocol[Tx_co]):
    """Runs work in one transaction; with a message id, at most once (the inbox)."""

    async def run(
        self,
        message_id: UUID | None,
        command_type: str,
        work: Callable[[Tx_co], Awaitable[Reply]],
    ) -> Reply: ...


class NoTransaction:
    """For use cases that manage their own short transactions (or need none): no inbox, so
    they must be idempotent by themselves."""

    async def run(
        self,
        message_id: UUID | None,  # noqa: ARG002
        command_type: str,  # noqa: ARG002
        work: Callable[[None], Awaitable[Reply]],
    ) -> Reply:
        return await work(None)


class CommandDispatcher(Generic[Tx]):
    def __init__(self, service: str, runner: TransactionRunner[Tx]) -> None:
        self._service = service
        self._runner = runner
        self._handlers: dict[str, _Registered[Tx]] = {}
        self.commits: list[OffsetCommitter] = []

    async def commit_handled(self) -> None:
        """Commit the offsets of every handled command now: on shutdown, before the broker
        stops its consumers (else up to one commit interval of commands is redelivered)."""
        for commits in self.commits:
            await commits.close()

    def register(
        self, spec: CommandSpec[Req, Res], handler: Handler[Req, Tx, Res], *, inbox: bool
    ) -> None:
        """`inbox=False` only for commands that are naturally idempotent (reads, signing).
        mypy checks `handler` against the spec: it takes the spec's request, returns its result."""
        self._handlers[spec.name] = _Registered(spec.request, handler, inbox)

    async def dispatch(
        self,
        body: bytes | dict[str, Any],
        topic: str | None = None,
        after_reply: AfterReply = run_now,
    ) -> Dispatched:
        """Handle one command that came from `topic` (logical name; None: a direct call, whose
        sender is not checked). A principal that does not fit the topic is refused, counted,
        and parked as a dead letter for an operator to look at. `after_reply` is handed to the
        handler with the command (`Command.after_reply`)."""
        try:
            envelope = decode(body)
        except (ValueError, ValidationError) as error:
            reply = Reply.failure(_bad_request(str(error)))
            return Dispatched(encode(_reply_envelope(None, reply)), f"undecodable: {error}")
        refusal = None if topic is None else sender_refusal(topic, envelope)
        if refusal is not None:
            metrics.observe_refused_envelope(self._service, topic or "")
            log.warning("command refused", extra={"type": envelope.type, "reason": refusal})
            denied = ErrorBody(code=ErrorCode.PERMISSION_DENIED, detail=refusal)
            return Dispatched(encode(_reply_envelope(envelope, Reply.failure(denied))), refusal)
        reply, poison = await self._handle(envelope, after_reply)
        return Dispatched(encode(_reply_envelope(envelope, reply)), poison)

    async def _handle(
        self, envelope: Envelope, after_reply: AfterReply
    ) -> tuple[Reply, str | None]:
        # Unknown types share one label, so a stray sender cannot grow the label set.
        command = envelope.type if envelope.type in self._handlers else "unknown"
        with metrics.command_timer(self._service, command):
            reply, poison = await self._execute(envelope, after_reply)
        outcome = "ok" if reply.error is None else str(reply.error.code)
        metrics.observe_command_outcome(self._service, command, outcome)
        return reply, poison

    async def _execute(
        self, envelope: Envelope, after_reply: AfterReply
    ) -> tuple[Reply, str | None]:
        registered = self._handlers.get(envelope.type)
        if registered is None:
            detail = f"{self._service} does not handle {envelope.type}"
            return Reply.failure(_bad_request(detail)), detail
        tenant_in_scope.set(envelope.tenant_id)
        session_in_scope.set(str(envelope.payload.get("upload_session_id") or "") or None)
        try:
            payload = registered.request.model_validate(envelope.payload)
            command = Command(envelope, payload, after_reply)
        except ValidationError as error:
            return Reply.failure(_bad_request(str(error))), None

        async def work(tx: Tx) -> Reply:
            return Reply.success(await registered.handler(command, tx))

        message_id = envelope.message_id if registered.inbox else None
        try:
            return await self._runner.run(message_id, envelope.type, work), None
        except DomainError as error:
            return Reply.failure(error.body()), None
        except Exception as error:
            return _failure(envelope.type, error)

    def subscribe(
        self,
        broker: KafkaBroker,
        topic_names: Sequence[str],
        group_id: str,
        workers: int,
        settings: ServiceSettings,
    ) -> None:
        """Consume the command topics `topic_names` in `group_id`, one consumer each (with up
        to `workers` commands at once), checking each command's sender against its topic;
        offsets are committed only after the reply is sent, or once sending it took longer than
        INTAKE_PUBLISH_TIMEOUT_S, and at most once per INTAKE_KAFKA_COMMIT_INTERVAL_MS per
        consumer (commits.py)."""
        for topic in topic_names:
            self._subscribe_topic(broker, topic, group_id, workers, settings)

    def _subscribe_topic(
        self,
        broker: KafkaBroker,
        topic: str,
        group_id: str,
        workers: int,
        settings: ServiceSettings,
    ) -> None:
        reply_timeout_s = settings.publish_timeout_s
        commits = OffsetCommitter(settings.kafka_commit_interval_ms / 1000)
        self.commits.append(commits)

        dead_letters = DeadLetters(broker, names.group(group_id))

        async def on_command(undecoded: Any) -> None:
            message: KafkaMessage = undecoded  # kafka.undecoded hands the message over as it came
            metrics.observe_consumer_lag(group_id, message)
            record = message.raw_message
            waiting: list[Callable[[], object]] = []
            try:
                # The raw bytes, not FastStream's decoded body: the envelope has its own decoder.
                reply, poison = await self.dispatch(message.body, topic, waiting.append)
                if poison is not None:
                    await _park(dead_letters, message, poison)
                if message.reply_to:
                    await _send_reply(broker, message, reply, reply_timeout_s)
            finally:  # as FastStream's ACK policy did: a handler that raised is not redone
                _run_after_reply(waiting)
                # FastStream's in-memory test broker has no offsets to commit.
                if isinstance(message.consumer, AIOKafkaConsumer):
                    await commits.handled(
                        message.consumer,
                        TopicPartition(record.topic, record.partition),  # type: ignore[union-attr]
                        record.offset,  # type: ignore[union-attr]
                    )

        broker.subscriber(
            names.topic(topic),
            group_id=names.group(group_id),
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            max_workers=workers,
            **kafka.consumer_options(settings),
            no_reply=True,
            decoder=kafka.undecoded,
            title=f"{self._service} commands: {topic}",
        )(on_command)


def _failure(command_type: str, error: Exception) -> tuple[Reply, str | None]:
    """A dependency that is down answers 503 (retry later); anything else is a bug: 500, and
    the command is parked so that it can be replayed once the bug is fixed."""
    if isinstance(error, TransientError):
        log.warning("command failed on a dependency", extra={"type": command_type})
        return Reply.failure(error.body()), None
    if is_transient(error):
        log.warning(
            "command failed on a dependency", extra={"type": command_type, "error": str(error)}
        )
        unavailable = ErrorBody(code=ErrorCode.SERVICE_UNAVAILABLE, detail="dependency unavailable")
        return Reply.failure(unavailable), None
    log.error("command failed", exc_info=error, extra={"type": command_type})
    internal = ErrorBody(code=ErrorCode.INTERNAL_ERROR, detail="internal error")
    return Reply.failure(internal), f"{type(error).__name__}: {error}"


async def _park(dead_letters: DeadLetters, message: KafkaMessage, poison: str) -> None:
    """The caller has its answer either way; a dead letter Kafka refuses is only logged."""
    try:
        await dead_letters.park(message.raw_message, poison)  # type: ignore[arg-type]
    except (KafkaError, OSError, TimeoutError) as error:
        log.exception("dead letter not parked", extra={"poison": poison, "error": str(error)})


async def _send_reply(
    broker: KafkaBroker, message: KafkaMessage, reply: bytes, timeout_s: float
) -> None:
    """Best effort within a deadline: a caller that has gone (its reply topic deleted) must not
    stall this partition; it has timed out already, and its retry is safe."""
    try:
        async with asyncio.timeout(timeout_s):
            await broker.publish(
                reply,
                message.reply_to,
                correlation_id=message.correlation_id,
                headers={"content-type": "application/json"},
            )
    except (KafkaError, OSError, TimeoutError) as error:
        log.warning(
            "reply not delivered", extra={"reply_to": message.reply_to, "error": str(error)}
        )


def _bad_request(detail: str) -> ErrorBody:
    return ErrorBody(code=ErrorCode.VALIDATION_FAILED, detail=detail)


def _reply_envelope(request: Envelope | None, reply: Reply) -> Envelope:
    return Envelope(
        type=REPLY_TYPE,
        correlation_id=request.correlation_id if request else "",
        tenant_id=request.tenant_id if request else None,
        payload=reply.model_dump(mode="json"),
    )
