"""Bearer JWT → Principal. HS256 with a shared secret by default; RS256 by key or JWKS.

Every token must carry `exp` and `iat`, live no longer than the configured maximum, and match
the configured issuer and audience; clocks may differ by the configured leeway.
"""

import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

import jwt

from intake_contracts.envelope import UPLOAD_PERMISSION, Principal
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.keys import is_valid_tenant_id
from intake_gateway.jwks import JwksCache
from intake_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

_REQUIRED_CLAIMS = ["exp", "iat", "sub", "tenant_id"]
TOKEN_REFUSED = "the Bearer token is invalid or expired: sign in again for a new one"  # noqa: S105
# Verified tokens remembered at once; a client sends the same token for every request of an
# upload, so a few thousand cover every caller of a busy replica.
_VERIFIED_TOKENS = 4096


class _Verified(NamedTuple):
    principal: Principal
    key: Any  # the key it was verified with: a token whose key changed is verified again
    expires_at: float  # its `exp`: from then on it goes through the full check (leeway) again


class TokenVerifier:
    def __init__(self, settings: GatewaySettings, clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._clock = clock
        # A token is verified once until its expiry (HS256 decode and claim checks were about
        # a third of the gateway's own CPU per request: docs/decisions/0012).
        self._verified: OrderedDict[str, _Verified] = OrderedDict()
        self._jwks = (
            JwksCache(
                settings.jwt_jwks_url,
                timeout_s=settings.jwks_timeout_s,
                refresh_s=settings.jwks_refresh_s,
                unknown_kid_interval_s=settings.jwks_unknown_kid_interval_s,
            )
            if settings.jwt_algorithm == "RS256" and settings.jwt_jwks_url
            else None
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Keeps the JWKS keys fresh in the background while the app runs."""
        if self._jwks is None:
            yield
            return
        await self._jwks.start()
        try:
            yield
        finally:
            await self._jwks.stop()

    async def principal(self, authorization: str | None) -> Principal:
        """The verified caller. Raises DomainError(unauthenticated) for anything else."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise DomainError(ErrorCode.UNAUTHENTICATED, "a Bearer token is required")
        try:
            key = await self._key(token)
            known = self._verified.get(token)
            if known is not None and known.key is key and self._clock() < known.expires_at:
                self._verified.move_to_end(token)
                return known.principal
            claims = self._decode(token, key)
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            # The reason is the operator's (which check failed); a client can only get a new
            # token, and must not learn which claim or key would have passed.
            log.info("token refused", extra={"reason": str(error), "kind": type(error).__name__})
            raise DomainError(ErrorCode.UNAUTHENTICATED, TOKEN_REFUSED) from None
        principal = _principal(claims)
        self._remember(token, _Verified(principal, key, float(claims["exp"])))
        return principal

    def _remember(self, token: str, verified: _Verified) -> None:
        self._verified[token] = verified
        self._verified.move_to_end(token)
        if len(self._verified) > _VERIFIED_TOKENS:
            self._verified.popitem(last=False)

    async def _key(self, token: str) -> Any:
        if self._settings.jwt_algorithm == "HS256":
            return self._settings.jwt_secret
        if self._jwks is None:
            return self._settings.jwt_public_key
        key = await self._jwks.key(jwt.get_unverified_header(token).get("kid"))
        if key is None:
            raise jwt.InvalidKeyError("no known signing key for this token")
        return key

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        settings = self._settings
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_s,
            options={
                "require": _REQUIRED_CLAIMS,
                "verify_aud": bool(settings.jwt_audience),
                "verify_iss": bool(settings.jwt_issuer),
            },
        )
        lifetime = claims["exp"] - claims["iat"]
        if lifetime > settings.jwt_max_lifetime_s:
            raise jwt.InvalidTokenError(
                f"lives {lifetime}s, longer than the {settings.jwt_max_lifetime_s}s allowed"
            )
        return claims


def _principal(claims: dict[str, Any]) -> Principal:
    tenant_id, brand_ids, permissions = (
        claims["tenant_id"],
        claims.get("brand_ids", []),
        claims.get("permissions", []),
    )
    if not isinstance(tenant_id, str) or not is_valid_tenant_id(tenant_id):
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
