"""Development tokens: HS256 JWTs with the claims the gateway reads."""

import base64
import binascii
import json
import os
import time
from typing import Any

# The local stack's default; every real deployment has its own secret (INTAKE_JWT_SECRET).
DEV_SECRET = "intake-local-development-only-jwt-secret"  # noqa: S105 - public dev default
UPLOAD_PERMISSION = "assets.upload"


def mint(
    tenant_id: str,
    brand_ids: list[str],
    permissions: list[str] | None = None,
    *,
    user_id: str | None = None,
    secret: str | None = None,
    ttl_s: int = 24 * 3600,
) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id or f"user-{os.urandom(4).hex()}",
        "tenant_id": tenant_id,
        "brand_ids": brand_ids,
        "permissions": permissions if permissions is not None else [UPLOAD_PERMISSION],
        "iat": now,
        "exp": now + ttl_s,
    }
    import jwt  # noqa: PLC0415 - PyJWT (and cryptography) only when a token is minted

    return jwt.encode(claims, secret or os.environ.get("INTAKE_JWT_SECRET") or DEV_SECRET)


def unverified_claims(token: str) -> dict[str, Any]:
    """The token's claims without checking the signature: only to pick sensible defaults.

    Read by hand (base64url JSON, RFC 7519): PyJWT would cost `intake upload` a tenth of a
    second of imports before its first request, for no check at all.
    """
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}
