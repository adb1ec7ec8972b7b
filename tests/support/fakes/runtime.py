"""Fakes of what every service shares: the clock, the outbox, failures on cue, and the errors the request/reply
adapters raise when no reply comes or the broker does not take a command."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from intake_contracts.envelope import Principal
from intake_contracts.errors import CodedError
from intake_contracts.events import EVENT_MODELS, EventType
from intake_runtime.messaging.requests import BrokerUnavailableError, ReplyTimeoutError


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class Emitted:
    event_type: EventType
    event: BaseModel
    key: str
    tenant_id: str | None
    correlation_id: str


@dataclass
class FakeOutbox:
    events: list[Emitted] = field(default_factory=list)

    async def add(
        self,
        event_type: EventType,
        event: BaseModel,
        *,
        key: str,
        tenant_id: str | None,
        correlation_id: str,
        principal: Principal | None = None,  # noqa: ARG002
    ) -> None:
        await self.add_many([(event_type, event, key, tenant_id)], correlation_id=correlation_id)

    async def add_many(
        self,
        events: list[tuple[EventType, BaseModel, str, str | None]],
        *,
        correlation_id: str,
        principal: Principal | None = None,  # noqa: ARG002
    ) -> int:
        for event_type, event, _, _ in events:  # all or none, as the real outbox's one insert
            model, _ = EVENT_MODELS[event_type]
            if not isinstance(event, model):
                name = type(event).__name__
                raise TypeError(f"{event_type} carries {model.__name__}, not {name}")
        self.events += [
            Emitted(t, event, key, tenant, correlation_id) for t, event, key, tenant in events
        ]
        return len(events)


Failure = BaseException | Callable[[], object]


def raise_failure(failure: Failure | None) -> None:
    if isinstance(failure, CodedError):  # as a real adapter raises an answer of that code
        raise failure.body().exception()
    if isinstance(failure, BaseException):
        raise failure
    if failure is not None:
        failure()  # raises


# What the request/reply adapters raise when the broker does not take a command, or no reply
# comes before the deadline: the fakes' `stall()` and `cut_off()` raise exactly these.
NO_REPLY = ReplyTimeoutError("no reply within the deadline")


BROKER_DOWN = BrokerUnavailableError("the broker did not take the command")
