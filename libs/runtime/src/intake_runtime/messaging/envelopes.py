"""Encoding of envelopes and the headers that travel with them."""

import json
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from intake_contracts.envelope import Envelope, Principal, upcast


def command_envelope(
    command_type: str,
    payload: BaseModel,
    *,
    correlation_id: str,
    principal: Principal | None,
    message_id: UUID | None = None,
) -> Envelope:
    fields: dict[str, Any] = {
        "type": command_type,
        "correlation_id": correlation_id,
        "tenant_id": principal.tenant_id if principal else None,
        "principal": principal,
        "payload": payload.model_dump(mode="json"),
    }
    if message_id is not None:
        fields["message_id"] = message_id
    return Envelope(**fields)


def encode(envelope: Envelope) -> bytes:
    return envelope.model_dump_json().encode()


def decode(body: bytes | str | dict[str, Any]) -> Envelope:
    raw = body if isinstance(body, dict) else json.loads(body)
    return Envelope.model_validate(upcast(raw))
