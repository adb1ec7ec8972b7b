"""Calls to the HTTP API that many tests share."""

import uuid
from typing import Any

import httpx

from tests.conftest import Caller


def initiate_body(caller: Caller, size: int, **extra: Any) -> dict[str, Any]:
    return {
        "file_name": f"f-{uuid.uuid4().hex[:6]}.bin",
        "file_size": size,
        "mime_type": "application/octet-stream",
        "brand_id": caller.brand_id,
        **extra,
    }


async def initiate(
    api: httpx.AsyncClient, caller: Caller, size: int, **extra: Any
) -> dict[str, Any]:
    """A new session of `size` bytes; anything but 201 fails the test."""
    answer = await api.post(
        "/app/uploads/initiate", json=initiate_body(caller, size, **extra), headers=caller.headers
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())
