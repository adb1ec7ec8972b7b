"""Every bad input a clear 4xx, never 500 or a retry-forever 503 (issue #10, one per finding)."""

import asyncio
import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from intake_gateway.auth import TOKEN_REFUSED
from tests.conftest import Caller, System
from tests.support import tokens
from tests.support.api import initiate, initiate_body
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
INITIATE = "/app/uploads/initiate"
BATCH = "/app/uploads/initiate-batch"


def problem_of(answer: httpx.Response) -> tuple[int, str]:
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    return answer.status_code, answer.json()["code"]


async def test_a_nul_in_client_reference_is_a_422_not_a_500(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    answer = await api.post(
        INITIATE, json=initiate_body(caller, 10, client_reference="ref\x00"), headers=caller.headers
    )
    assert problem_of(answer) == (422, "validation_failed")


async def test_a_nul_in_one_batch_file_refuses_that_file_alone(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    files = [
        {
            "file_name": f"{i}.jpg",
            "file_size": 10,
            "mime_type": "image/jpeg",
            "client_reference": f"r{i}",
        }
        for i in range(3)
    ]
    files[1]["client_reference"] = "r\x00"
    answer = await api.post(
        BATCH, json={"brand_id": caller.brand_id, "files": files}, headers=caller.headers
    )
    assert answer.status_code == 200, answer.text
    uploads = answer.json()["uploads"]
    assert [item["ok"] for item in uploads] == [True, False, True]
    assert uploads[1]["error"]["code"] == "validation_failed"
    assert "client_reference" in uploads[1]["error"]["detail"]


async def test_a_refused_type_in_a_batch_fails_only_that_file(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    files = [
        {
            "file_name": "a.jpg",
            "file_size": 10,
            "mime_type": "image/jpeg",
            "client_reference": "ok",
        },
        {
            "file_name": "p.html",
            "file_size": 10,
            "mime_type": "text/html",
            "client_reference": "html",
        },
    ]
    answer = await api.post(
        BATCH, json={"brand_id": caller.brand_id, "files": files}, headers=caller.headers
    )
    assert answer.status_code == 200, answer.text
    by_ref = {item["client_reference"]: item for item in answer.json()["uploads"]}
    assert by_ref["ok"]["ok"] is True
    assert by_ref["html"]["ok"] is False
    assert by_ref["html"]["error"]["code"] == "mime_type_not_allowed"


@pytest.mark.parametrize(
    "mime_type", ["text/html", "application/xhtml+xml", "application/javascript"]
)
async def test_types_browsers_execute_are_refused(
    api: httpx.AsyncClient, caller: Caller, mime_type: str
) -> None:
    answer = await api.post(
        INITIATE, json=initiate_body(caller, 10, mime_type=mime_type), headers=caller.headers
    )
    assert problem_of(answer) == (422, "mime_type_not_allowed")


async def test_a_2_mb_field_is_413_and_never_a_503(api: httpx.AsyncClient, caller: Caller) -> None:
    answer = await api.post(
        INITIATE,
        json=initiate_body(caller, 10, client_reference="x" * (2 * MiB)),
        headers=caller.headers,
    )
    assert problem_of(answer) == (413, "body_too_large")
    assert "retry-after" not in answer.headers


async def test_deeply_nested_json_is_a_400_even_without_a_token(api: httpx.AsyncClient) -> None:
    depth = 10_000
    answer = await api.post(
        INITIATE,
        content=b"[" * depth + b"]" * depth,
        headers={"content-type": "application/json"},
    )
    assert answer.status_code in {400, 401}
    with_token = await api.post(
        INITIATE,
        content=b'{"a":' * depth + b"1" + b"}" * depth,
        headers={"content-type": "application/json", **_token_headers()},
    )
    assert problem_of(with_token) == (400, "malformed_json")


def _token_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.mint(tokens.new_tenant(), ['b'])}"}


async def test_a_blank_idempotency_key_is_no_key(api: httpx.AsyncClient, caller: Caller) -> None:
    ids = set()
    for key in ("", "", ""):
        body = initiate_body(caller, 10, file_name="same.bin")
        answer = await api.post(
            INITIATE, json=body, headers={**caller.headers, "Idempotency-Key": key}
        )
        assert answer.status_code == 201, answer.text
        ids.add(answer.json()["upload_session_id"])
    assert len(ids) == 3


@pytest.mark.parametrize(
    "file_name", ["a\r\nb.txt", "\x1b[31mred.txt", "invoice\u202etxt.exe", "tab\there.txt"]
)
async def test_control_characters_in_file_names_are_refused(
    api: httpx.AsyncClient, caller: Caller, file_name: str
) -> None:
    answer = await api.post(
        INITIATE, json=initiate_body(caller, 10, file_name=file_name), headers=caller.headers
    )
    assert problem_of(answer) == (422, "validation_failed")


async def test_control_characters_in_the_idempotency_key_are_refused(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    answer = await api.post(
        INITIATE,
        json=initiate_body(caller, 10),
        # C1 CSI (an 8-bit escape sequence): C0 controls cannot travel in a header at all.
        headers={**caller.headers, "Idempotency-Key": b"key\x9b0m"},
    )
    assert problem_of(answer) == (422, "validation_failed")


async def test_file_names_are_stored_nfc_normalised(api: httpx.AsyncClient, caller: Caller) -> None:
    session = await initiate(api, caller, 10, file_name="Cafe\u0301.txt")
    assert session["file_name"] == "Café.txt"


@pytest.mark.parametrize("tenant_id", ["acme-", "acme\n", "ac--me", "-acme", "Acme"])
async def test_tenant_ids_that_name_no_valid_bucket_are_refused(
    api: httpx.AsyncClient, tenant_id: str
) -> None:
    token = tokens.mint(tenant_id, ["b"])
    answer = await api.get(
        f"/app/uploads/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}
    )
    assert problem_of(answer) == (401, "unauthenticated")


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "u",
        "tenant_id": tokens.new_tenant(),
        "brand_ids": ["b"],
        "permissions": ["assets.upload"],
        "iat": now,
        "exp": now + 600,
        **changes,
    }
    return {key: value for key, value in claims.items() if value is not None}


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        (_claims(exp=None), "exp"),
        (_claims(iat=None), "iat"),
        (_claims(exp=int(time.time()) + 30 * 24 * 3600), "longer than"),
    ],
)
async def test_tokens_without_exp_or_iat_or_living_too_long_are_refused(
    api: httpx.AsyncClient, system: System, claims: dict[str, Any], reason: str
) -> None:
    token = jwt.encode(claims, tokens.DEV_SECRET, algorithm="HS256")
    answer = await api.get(
        f"/app/uploads/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}
    )
    assert problem_of(answer) == (401, "unauthenticated")
    # The client is told to sign in again; which check failed is the operator's (the log).
    assert answer.json()["detail"] == TOKEN_REFUSED
    log = system.processes["gateway"].log_path
    await eventually(lambda: refusal_reasons(log), lambda found: reason in found, timeout_s=10)


async def refusal_reasons(log: Path) -> str:
    """Every reason the gateway logged for a refused token, one per line."""
    text = await asyncio.to_thread(log.read_text, errors="replace")
    reasons = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("msg") == "token refused":
                reasons.append(str(record.get("reason")))
    return "\n".join(reasons)


async def test_part_urls_sign_the_exact_part_length(api: httpx.AsyncClient, caller: Caller) -> None:
    session = await initiate(api, caller, 12 * MiB)  # parts of 8 MiB and 4 MiB
    signed = await api.post(
        f"/app/uploads/{session['upload_session_id']}/multipart-part-urls",
        json={"part_numbers": [1, 2]},
        headers=caller.headers,
    )
    assert signed.status_code == 200, signed.text
    first, last = signed.json()["parts"]
    async with httpx.AsyncClient(timeout=60) as raw:
        oversized = await raw.put(last["url"], content=b"x" * (5 * MiB))
        assert oversized.status_code == 403, oversized.text
        exact = await raw.put(last["url"], content=b"x" * (4 * MiB))
        assert exact.status_code == 200, exact.text
        short = await raw.put(first["url"], content=b"x" * (5 * MiB))
        assert short.status_code == 403, short.text
