"""Command dispatch: decode the envelope, run the use case once, answer with a reply envelope."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel, ValidationError

from intake_contracts.commands import COMMAND_MODELS, CommandType
from intake_contracts.envelope import Envelope, Principal
from intake_contracts.errors import DomainError, ErrorBody, ErrorCode, TransientError
from intake_contracts.replies import REPLY_TYPE, Reply
from intake_runtime import metrics
from intake_runtime.logs import session_in_scope, tenant_in_scope
from intake_runtime.messaging import kafka
from intake_runtime.messaging.envelopes import decode, encode

log = logging.getLogger(__name__)

Tx = TypeVar("Tx")
Tx_co = TypeVar("Tx_co", covariant=True)
P_co = TypeVar("P_co", bound=BaseModel, covariant=True)


@dataclass(frozen=True)
class Command(Generic[P_co]):
    """A decoded command: who asks, for which tenant, and what."""

    envelope: Envelope
    payload: P_co

    @property
    def principal(self) -> Principal:
        if self.envelope.principal is None:
            raise DomainError(ErrorCode.UNAUTHENTICATED, "command carries no principal")
        return self.envelope.principal

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id


Handler = Callable[[Command[Any], Tx], Awaitable[BaseModel]]


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
        self._handlers: dict[str, tuple[Handler[Tx], bool]] = {}

    def register(self, command_type: CommandType, handler: Handler[Tx], *, inbox: bool) -> None:
        """`inbox=False` only for commands that are naturally idempotent (reads, signing)."""
        self._handlers[command_type] = (handler, inbox)

    async def dispatch(self, body: bytes | dict[str, Any]) -> bytes:
        try:
            envelope = decode(body)
        except (ValueError, ValidationError) as error:
            log.warning("undecodable command dropped", extra={"error": str(error)})
            return encode(_reply_envelope(None, Reply.failure(_bad_request(str(error)))))
        reply = await self._handle(envelope)
        return encode(_reply_envelope(envelope, reply))

    async def _handle(self, envelope: Envelope) -> Reply:
        # Unknown types share one label, so a stray sender cannot grow the label set.
        command = envelope.type if envelope.type in self._handlers else "unknown"
        with metrics.command_timer(self._service, command):
            reply = await self._execute(envelope)
        outcome = "ok" if reply.error is None else str(reply.error.code)
        metrics.observe_command_outcome(self._service, command, outcome)
        return reply

    async def _execute(self, envelope: Envelope) -> Reply:
        registered = self._handlers.get(envelope.type)
        if registered is None:
            return Reply.failure(_bad_request(f"{self._service} does not handle {envelope.type}"))
        handler, use_inbox = registered
        tenant_in_scope.set(envelope.tenant_id)
        session_in_scope.set(str(envelope.payload.get("upload_session_id") or "") or None)
        try:
            request_model = COMMAND_MODELS[CommandType(envelope.type)][0]
            command = Command(envelope, request_model.model_validate(envelope.payload))
        except ValidationError as error:
            return Reply.failure(_bad_request(str(error)))

        async def work(tx: Tx) -> Reply:
            return Reply.success(await handler(command, tx))

        message_id = envelope.message_id if use_inbox else None
        try:
            return await self._runner.run(message_id, envelope.type, work)
        except DomainError as error:
            return Reply.failure(error.body())
        except TransientError as error:
            log.warning("command failed on a dependency", extra={"type": envelope.type})
            return Reply.failure(error.body())
        except Exception:
            log.exception("command failed", extra={"type": envelope.type})
            return Reply.failure(ErrorBody(code=ErrorCode.INTERNAL_ERROR, detail="internal error"))

    def subscribe(
        self,
        broker: KafkaBroker,
        topic: str,
        group_id: str,
        workers: int,
        reply_timeout_s: float = 3.0,
    ) -> None:
        """Consume `topic` in `group_id`; offsets are committed only after the reply is sent."""

        async def on_command(body: Any, message: KafkaMessage) -> None:  # noqa: ARG001
            metrics.observe_consumer_lag(group_id, message)
            # The raw bytes, not FastStream's decoded body: the envelope has its own decoder.
            reply = await self.dispatch(message.body)
            if message.reply_to:
                await _send_reply(broker, message, reply, reply_timeout_s)

        broker.subscriber(
            topic,
            group_id=group_id,
            ack_policy=AckPolicy.ACK,
            auto_offset_reset="earliest",
            max_workers=workers,
            **kafka.CONSUMER_OPTIONS,
            no_reply=True,
            title=f"{self._service} commands",
        )(on_command)


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
