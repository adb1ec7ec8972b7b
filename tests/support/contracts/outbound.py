"""What the request/reply port suites share. Each suite runs against the fake (tests/unit) and
against the real adapter over a real RequestReplyClient with the real services answering
(tests/e2e/test_outbound_ports.py). Beside the port, a test module provides how to make the world
the test needs: `seed` sessions in a state, and the port as it is when no reply comes in time
(`stalled`) or the broker does not take the command (`unreachable`)."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import NamedTuple

import pytest

from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode


class Seeded(NamedTuple):
    """A session of a tenant of its own, and the user who initiated it (its brand)."""

    session_id: uuid.UUID
    owner: Principal
    expires_at: datetime


# "uploading", "cancelled" or "expired" (UPLOADING, past its expiry) → a session in that state.
Seed = Callable[[str], Awaitable[Seeded]]


def stranger(owner: Principal) -> Principal:
    """A user of another tenant with the same brand."""
    return owner.model_copy(update={"tenant_id": f"t-{uuid.uuid4().hex[:8]}"})


def outsider(owner: Principal) -> Principal:
    """A user of the owner's tenant whose token lacks the session's brand."""
    return owner.model_copy(update={"brand_ids": ("another-brand",)})


def vouched(owner: Principal, service: str = "completion") -> Principal:
    """The owner's identity with an Intake service vouching for the command."""
    return owner.model_copy(update={"service": service})


async def refusal(call: Awaitable[object]) -> tuple[ErrorCode, str]:
    with pytest.raises(DomainError) as refused:
        await call
    return refused.value.code, refused.value.detail


MISSING = (ErrorCode.UPLOAD_SESSION_NOT_FOUND, "upload session not found")
