"""Ports every service's use cases share: the clock and the transactional outbox.

Use cases depend on these small protocols, never on asyncpg or the system clock: the real
adapters live beside them in the runtime, the in-memory fakes in tests/support/fakes/, and
one contract suite (tests/support/contracts/) holds both to the same behaviour.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel

from intake_contracts.envelope import Principal
from intake_contracts.events import EventType

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventOutbox(Protocol):
    """Events written in the caller's transaction: published only if the transaction commits."""

    async def add(
        self,
        event_type: EventType,
        event: BaseModel,
        *,
        key: str,
        tenant_id: str | None,
        correlation_id: str,
        principal: Principal | None = None,
    ) -> None: ...

    async def add_many(
        self,
        events: list[tuple[EventType, BaseModel, str, str | None]],
        *,
        correlation_id: str,
        principal: Principal | None = None,
    ) -> int:
        """Many events (type, event, key, tenant) of one command at once; how many."""
        ...
