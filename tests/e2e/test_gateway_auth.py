"""RS256 through a JWKS endpoint served by this test, and the per-tenant rate limit (issue #10)."""

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import System, new_caller
from tests.support import jwks
from tests.support.gateways import own_gateway
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def provider() -> Iterator[jwks.Provider]:
    with jwks.serve_jwks(jwks.Provider([jwks.SigningKey()])) as served:
        yield served


@pytest.fixture(scope="module")
def rs256_gateway(
    system: System, provider: jwks.Provider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with own_gateway(
        system,
        tmp_path_factory.mktemp("rs256"),
        INTAKE_JWT_ALGORITHM="RS256",
        INTAKE_JWT_JWKS_URL=provider.url,
        INTAKE_JWT_ISSUER=jwks.ISSUER,
        INTAKE_JWT_AUDIENCE=jwks.AUDIENCE,
        INTAKE_JWKS_TIMEOUT_S="30",  # the test, not a timeout, ends the hanging fetch
        INTAKE_JWKS_REFRESH_S="0.2",
        INTAKE_JWKS_UNKNOWN_KID_INTERVAL_S="0",
    ) as url:
        yield url


def session_path() -> str:
    return f"/app/uploads/{uuid.uuid4()}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_rs256_tokens_verify_against_the_providers_keys(
    rs256_gateway: str, provider: jwks.Provider
) -> None:
    key = provider.keys[0]
    caller = new_caller()
    async with httpx.AsyncClient(base_url=rs256_gateway, timeout=60) as api:
        ok = await api.get(session_path(), headers=bearer(key.token(caller.tenant_id, ["b"])))
        assert ok.status_code == 404, ok.text  # authenticated: the session simply is not there
        for wrong in ({"iss": "https://evil"}, {"aud": "someone-else"}):
            refused = await api.get(
                session_path(), headers=bearer(key.token(caller.tenant_id, ["b"], **wrong))
            )
            assert refused.status_code == 401, refused.text
        stranger = jwks.SigningKey()  # a key the provider never published
        refused = await api.get(session_path(), headers=bearer(stranger.token("t-x", ["b"])))
        assert refused.status_code == 401


async def test_a_hanging_provider_freezes_neither_health_nor_known_keys(
    rs256_gateway: str, provider: jwks.Provider
) -> None:
    known = provider.keys[0].token(new_caller().tenant_id, ["b"])
    unknown = jwks.SigningKey().token("t-y", ["b"])
    provider.release.clear()
    provider.hanging.clear()
    provider.mode = "hang"
    try:
        async with httpx.AsyncClient(base_url=rs256_gateway, timeout=60) as api:
            await asyncio.to_thread(provider.hanging.wait, 60)
            waiting = asyncio.create_task(api.get(session_path(), headers=bearer(unknown)))
            health = await api.get("/healthz")
            assert health.status_code == 200
            with_known_key = await api.get(session_path(), headers=bearer(known))
            assert with_known_key.status_code == 404
            assert not waiting.done()  # only the unknown key waits on the provider
            provider.mode = "ok"
            provider.release.set()
            assert (await waiting).status_code == 401
    finally:
        provider.mode = "ok"
        provider.release.set()


async def test_keys_stay_usable_while_the_provider_fails(
    rs256_gateway: str, provider: jwks.Provider
) -> None:
    token = provider.keys[0].token(new_caller().tenant_id, ["b"])
    provider.mode = "fail"
    try:
        failed_from = provider.requests

        async def fetches() -> int:
            return provider.requests

        await eventually(fetches, lambda count: count >= failed_from + 2)
        async with httpx.AsyncClient(base_url=rs256_gateway, timeout=60) as api:
            answer = await api.get(session_path(), headers=bearer(token))
        assert answer.status_code == 404, answer.text
    finally:
        provider.mode = "ok"


async def test_a_tenant_over_its_rate_gets_429_with_retry_after(
    system: System, tmp_path: Path
) -> None:
    busy, calm = new_caller(), new_caller()
    with own_gateway(
        system, tmp_path, INTAKE_RATE_LIMIT_PER_S="0.01", INTAKE_RATE_LIMIT_BURST="3"
    ) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            answers = [await api.get(session_path(), headers=busy.headers) for _ in range(4)]
            assert [a.status_code for a in answers] == [404, 404, 404, 429]
            limited = answers[-1]
            assert limited.json()["code"] == "rate_limited"
            assert int(limited.headers["retry-after"]) >= 1
            other = await api.get(session_path(), headers=calm.headers)
            assert other.status_code == 404
