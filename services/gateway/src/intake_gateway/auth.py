"""Bearer JWT → Principal. HS256 with a shared secret by default; RS256 by key or JWKS."""

import re
from typing import Any

import jwt

from intake_contracts.envelope import UPLOAD_PERMISSION, Principal
from intake_contracts.errors import DomainError, ErrorCode
from intake_gateway.settings import GatewaySettings

# Tenant ids name per-tenant buckets, so they must be bucket-name safe.
_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,46}$")


class TokenVerifier:
    def __init__(self, settings: GatewaySettings) -> None:
        self._settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None

    def _key(self, token: str) -> Any:
        if self._settings.jwt_algorithm == "HS256":
            return self._settings.jwt_secret
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key
        return self._settings.jwt_public_key

    def principal(self, authorization: str | None) -> Principal:
        """The verified caller. Raises DomainError(unauthenticated) for anything else."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise DomainError(ErrorCode.UNAUTHENTICATED, "a Bearer token is required")
        try:
            claims = jwt.decode(
                token,
                self._key(token),
                algorithms=[self._settings.jwt_algorithm],
                audience=self._settings.jwt_audience,
                options={
                    "require": ["sub", "tenant_id"],
                    "verify_aud": bool(self._settings.jwt_audience),
                },
            )
        except (jwt.PyJWTError, ValueError) as error:
            raise DomainError(ErrorCode.UNAUTHENTICATED, f"invalid token: {error}") from None
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    tenant_id, brand_ids, permissions = (
        claims["tenant_id"],
        claims.get("brand_ids", []),
        claims.get("permissions", []),
    )
    if not isinstance(tenant_id, str) or not _TENANT_ID.match(tenant_id):
        raise DomainError(ErrorCode.UNAUTHENTICATED, "invalid token: malformed tenant_id")
    if not _string_list(brand_ids) or not _string_list(permissions):
        raise DomainError(
            ErrorCode.UNAUTHENTICATED, "invalid token: malformed brand_ids or permissions"
        )
    return Principal(
        user_id=str(claims["sub"]),
        tenant_id=tenant_id,
        brand_ids=tuple(brand_ids),
        permissions=tuple(permissions),
    )


def _string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def require_upload_permission(principal: Principal) -> None:
    if UPLOAD_PERMISSION not in principal.permissions:
        raise DomainError(
            ErrorCode.PERMISSION_DENIED, f"the {UPLOAD_PERMISSION} permission is required"
        )


def require_brand(principal: Principal, brand_id: str) -> None:
    if brand_id not in principal.brand_ids:
        raise DomainError(ErrorCode.BRAND_NOT_ALLOWED, f"brand {brand_id!r} is not in your token")
