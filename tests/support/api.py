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


async def put_direct(session: dict[str, Any], body: bytes) -> None:
    """The bytes of a direct upload, through the session's presigned URL; anything but 200
    fails the test."""
    direct = session["direct"]
    async with httpx.AsyncClient(timeout=30) as storage:
        put = await storage.put(direct["url"], content=body, headers=direct["headers"])
    assert put.status_code == 200, put.text


async def complete(api: httpx.AsyncClient, caller: Caller, session_id: str) -> dict[str, Any]:
    """The session's Asset; anything but 201 fails the test."""
    answer = await api.post(
        "/app/assets/upload/complete",
        headers=caller.headers,
        json={"upload_session_id": session_id},
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def upload_and_complete(
    api: httpx.AsyncClient, caller: Caller, body: bytes, **extra: Any
) -> str:
    """A direct upload of `body` made into an Asset; its session id."""
    session = await initiate(api, caller, len(body), **extra)
    await put_direct(session, body)
    await complete(api, caller, str(session["upload_session_id"]))
    return str(session["upload_session_id"])
