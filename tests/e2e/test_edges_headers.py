"""Issue 23, what the gateway tells a browser and a client, against the real services:
nosniff, no referrer and a CSP on every answer (the page's own policy on the page), and 401s
that say what to do while the reason goes to the log."""

import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests.conftest import Caller, System
from tests.support import tokens
from tests.support.api import initiate_body
from tests.support.gateways import production_gateway, production_token
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

INITIATE = "/app/uploads/initiate"


async def every_kind_of_answer(api: httpx.AsyncClient, caller: Caller) -> dict[str, httpx.Response]:
    return {
        "page": await api.get("/"),
        "script": await api.get("/static/app.js"),
        "document": await api.get("/schema/openapi.json"),
        "health": await api.get("/healthz"),
        "created": await api.post(INITIATE, json=initiate_body(caller, 10), headers=caller.headers),
        "unauthenticated": await api.post(INITIATE, json={}),
        "invalid": await api.post(INITIATE, json={}, headers=caller.headers),
        "no route": await api.get("/app/nothing-here"),
        "malformed": await api.post(
            INITIATE, content=b"{", headers={**caller.headers, "Content-Type": "application/json"}
        ),
    }


async def test_every_answer_forbids_sniffing_referrers_and_framing(
    api: httpx.AsyncClient, caller: Caller, system: System
) -> None:
    answers = await every_kind_of_answer(api, caller)
    assert answers["created"].status_code == 201
    for kind, answer in answers.items():
        assert answer.headers["x-content-type-options"] == "nosniff", kind
        assert answer.headers["referrer-policy"] == "no-referrer", kind
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], kind
    for kind in ("page", "script"):
        policy = answers[kind].headers["content-security-policy"]
        assert "script-src 'self'" in policy, kind
        assert f"connect-src 'self' {system.env['AWS_ENDPOINT_URL'].rstrip('/')};" in policy
        assert "unsafe-inline" not in policy
        assert "'unsafe-eval'" not in policy  # 'wasm-unsafe-eval' compiles WebAssembly only
    for kind in ("created", "unauthenticated", "document"):
        assert answers[kind].headers["content-security-policy"].startswith("default-src 'none'")
    assert '<meta name="intake-fragment-tokens" content="allowed"' in answers["page"].text


@pytest.mark.parametrize(
    ("why", "reason_logged"),
    [("wrong signature", "Signature verification failed"), ("expired", "Signature has expired")],
)
async def test_a_refused_token_says_to_sign_in_again_and_the_reason_is_logged(
    api: httpx.AsyncClient, caller: Caller, system: System, why: str, reason_logged: str
) -> None:
    claims = jwt.decode(caller.token, options={"verify_signature": False})
    if why == "expired":
        now = int(time.time())
        token = jwt.encode(
            {**claims, "iat": now - 600, "exp": now - 300}, tokens.DEV_SECRET, algorithm="HS256"
        )
    else:
        token = jwt.encode(claims, "another-secret-of-at-least-32-bytes!!", algorithm="HS256")
    answer = await api.post(
        INITIATE,
        json=initiate_body(caller, 10),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (answer.status_code, answer.json()["code"]) == (401, "unauthenticated")
    detail = answer.json()["detail"]
    assert "sign in again" in detail
    assert reason_logged not in answer.text
    log = system.processes["gateway"].log_path
    await eventually(lambda: _read(log), lambda text: reason_logged in text, timeout_s=10)


async def _read(path: Path) -> str:
    return path.read_text(errors="replace")


async def test_a_production_gateway_serves_the_document_without_cdn_pages_and_refuses_fragments(
    system: System, caller: Caller, tmp_path: Path
) -> None:
    with production_gateway(system, tmp_path) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as api:
            for page in ("/schema/swagger", "/schema/redoc", "/schema/elements"):
                answer = await api.get(page)
                assert answer.status_code == 404, (page, answer.text[:200])
            root = await api.get("/schema")  # the document itself, no page loading CDN code
            assert root.headers["content-type"].startswith("application/"), root.headers
            assert "<script" not in root.text
            document = await api.get("/schema/openapi.json")
            assert document.status_code == 200
            assert "/app/uploads/initiate-batch" in document.json()["paths"]
            assert document.headers["content-security-policy"].startswith("default-src 'none'")

            page = await api.get("/")
            assert '<meta name="intake-fragment-tokens" content="refused" />' in page.text
            assert '<meta name="intake-environment" content="production" />' in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]

            # The local development token is no token here; the production one works.
            local = await api.post(INITIATE, json=initiate_body(caller, 10), headers=caller.headers)
            assert (local.status_code, local.json()["code"]) == (401, "unauthenticated")
            created = await api.post(
                INITIATE,
                json=initiate_body(caller, 10),
                headers={"Authorization": f"Bearer {production_token(caller.token)}"},
            )
            assert created.status_code == 201, created.text
