"""Development JWTs for tests, signed with the local development secret, and the principal
a command of such a token carries."""

import time
import uuid

import jwt

from intake_contracts.envelope import Principal

DEV_SECRET = "intake-local-development-only-jwt-secret"


def mint(
    tenant_id: str,
    brand_ids: list[str],
    permissions: tuple[str, ...] = ("assets.upload",),
    *,
    user_id: str | None = None,
    secret: str = DEV_SECRET,
    ttl_s: int = 3600,
) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id or f"user-{uuid.uuid4().hex[:8]}",
        "tenant_id": tenant_id,
        "brand_ids": brand_ids,
        "permissions": list(permissions),
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def uploader(tenant_id: str | None = None) -> Principal:
    """A user of `tenant_id` (a new tenant when None) who may upload to brand "b"."""
    return Principal(
        user_id="u",
        tenant_id=tenant_id or new_tenant(),
        brand_ids=("b",),
        permissions=("assets.upload",),
    )
