"""Bearer token → principal, without a server: what is accepted and every way to be refused."""

import time
from typing import Any

import pytest

from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode
from intake_gateway import auth
from intake_gateway.auth import TokenVerifier, require_upload_permission
from intake_gateway.settings import GatewaySettings
from tests.support import tokens


@pytest.fixture
def verifier() -> TokenVerifier:
    return TokenVerifier(GatewaySettings(INTAKE_ENV="local"))


async def test_a_valid_token_becomes_its_principal(verifier: TokenVerifier) -> None:
    token = tokens.mint("t-1", ["b1", "b2"], user_id="u-1")
    principal = await verifier.principal(f"Bearer {token}")
    assert principal == Principal(
        user_id="u-1", tenant_id="t-1", brand_ids=("b1", "b2"), permissions=("assets.upload",)
    )
    assert principal.service is None


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic abc",
        "Bearer ",
        "Bearer not-a-jwt",
        f"Bearer {tokens.mint('t-1', ['b'], secret='another-secret-of-at-least-32-bytes!')}",
        f"Bearer {tokens.mint('t-1', ['b'], ttl_s=-60)}",  # expired
        f"Bearer {tokens.mint('t-1', ['b'], ttl_s=30 * 24 * 3600)}",  # lives too long
    ],
)
async def test_anything_else_is_unauthenticated(
    verifier: TokenVerifier, authorization: str | None
) -> None:
    with pytest.raises(DomainError) as refused:
        await verifier.principal(authorization)
    assert refused.value.code == ErrorCode.UNAUTHENTICATED


def test_uploading_needs_the_upload_permission() -> None:
    require_upload_permission(Principal(user_id="u", tenant_id="t", permissions=("assets.upload",)))
    with pytest.raises(DomainError) as refused:
        require_upload_permission(Principal(user_id="u", tenant_id="t"))
    assert refused.value.code == ErrorCode.PERMISSION_DENIED


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _counting_decodes(verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    decoded: list[str] = []
    decode = verifier._decode

    def counting(token: str, key: Any) -> dict[str, Any]:
        decoded.append(token)
        return decode(token, key)

    monkeypatch.setattr(verifier, "_decode", counting)
    return decoded


async def test_a_verified_token_is_not_verified_again_until_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock()
    verifier = TokenVerifier(GatewaySettings(INTAKE_ENV="local"), clock=clock)
    decoded = _counting_decodes(verifier, monkeypatch)
    token = tokens.mint("t-1", ["b1"], user_id="u-1", ttl_s=600)

    first = await verifier.principal(f"Bearer {token}")
    again = await verifier.principal(f"Bearer {token} ")
    assert again == first
    assert decoded == [token]

    clock.now += 601  # past its exp: the full check runs again (with its leeway)
    assert await verifier.principal(f"Bearer {token}") == first
    assert decoded == [token, token]


async def test_a_refused_token_is_refused_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(GatewaySettings(INTAKE_ENV="local"))
    decoded = _counting_decodes(verifier, monkeypatch)
    forged = tokens.mint("t-1", ["b"], secret="another-secret-of-at-least-32-bytes!")
    for _ in range(2):
        with pytest.raises(DomainError) as refused:
            await verifier.principal(f"Bearer {forged}")
        assert refused.value.code == ErrorCode.UNAUTHENTICATED
    assert decoded == [forged, forged]


async def test_the_verified_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_VERIFIED_TOKENS", 2)
    verifier = TokenVerifier(GatewaySettings(INTAKE_ENV="local"))
    decoded = _counting_decodes(verifier, monkeypatch)
    first, second, third = (tokens.mint(f"t-{n}", ["b"]) for n in range(3))
    for token in (first, second, first, third, first, second):
        await verifier.principal(f"Bearer {token}")
    # `first` stays as the most recently used; `second` is dropped for `third`, then read again.
    assert decoded == [first, second, third, second]


async def test_a_token_whose_signing_key_changed_is_verified_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verifier = TokenVerifier(GatewaySettings(INTAKE_ENV="local"))
    decoded = _counting_decodes(verifier, monkeypatch)
    token = tokens.mint("t-1", ["b"])
    await verifier.principal(f"Bearer {token}")

    async def rotated(_: str) -> Any:
        return "a-rotated-secret-that-is-at-least-32-bytes"

    monkeypatch.setattr(verifier, "_key", rotated)
    with pytest.raises(DomainError) as refused:
        await verifier.principal(f"Bearer {token}")
    assert refused.value.code == ErrorCode.UNAUTHENTICATED
    assert decoded == [token, token]
