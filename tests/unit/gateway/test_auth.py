"""Bearer token → principal, without a server: what is accepted and every way to be refused."""

import pytest

from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode
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
