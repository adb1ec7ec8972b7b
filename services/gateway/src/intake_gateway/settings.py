"""The gateway's one configuration object."""

import re
from typing import Final, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from intake_runtime.settings import CorsSettings, ServiceSettings, local_only

# Published in the README: a token signed with it proves nothing outside a laptop.
DEVELOPMENT_JWT_SECRET: Final = "intake-local-development-only-jwt-secret"  # noqa: S105
SERVICE: Final = "gateway"
MIN_SECRET_BYTES: Final = 32
# AWS's S3 hosts, virtual-hosted and path style, every region (`*.` matches any subdomain).
AWS_S3_ORIGINS: Final = ("https://*.amazonaws.com",)
_ORIGIN: Final = re.compile(r"https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?")


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class GatewaySettings(ServiceSettings, CorsSettings):
    host: str = Field(default="127.0.0.1", alias="INTAKE_GATEWAY_HOST")
    port: int = Field(default=8000, alias="INTAKE_GATEWAY_PORT", ge=0, le=65535)
    # LOCAL DEVELOPMENT ONLY default; production refuses it and any secret under 32 bytes.
    jwt_secret: str | None = local_only(DEVELOPMENT_JWT_SECRET, alias="INTAKE_JWT_SECRET")
    jwt_algorithm: Literal["HS256", "RS256"] = Field(default="HS256", alias="INTAKE_JWT_ALGORITHM")
    jwt_public_key: str | None = Field(default=None, alias="INTAKE_JWT_PUBLIC_KEY")
    jwt_jwks_url: str | None = Field(default=None, alias="INTAKE_JWT_JWKS_URL")
    jwt_issuer: str | None = Field(default=None, alias="INTAKE_JWT_ISSUER")
    jwt_audience: str | None = Field(default=None, alias="INTAKE_JWT_AUDIENCE")
    # Tokens living longer than this (exp - iat) are refused, whatever their signature.
    jwt_max_lifetime_s: int = Field(default=24 * 3600, alias="INTAKE_JWT_MAX_LIFETIME_S", gt=0)
    jwt_leeway_s: int = Field(default=30, alias="INTAKE_JWT_LEEWAY_S", ge=0, le=300)
    # JWKS: one fetch may take this long; keys are refreshed in the background this often, and
    # a token naming an unknown key triggers at most one refetch per interval.
    jwks_timeout_s: float = Field(default=2.0, alias="INTAKE_JWKS_TIMEOUT_S", gt=0, le=30)
    jwks_refresh_s: float = Field(default=300.0, alias="INTAKE_JWKS_REFRESH_S", gt=0)
    jwks_unknown_kid_interval_s: float = Field(
        default=30.0, alias="INTAKE_JWKS_UNKNOWN_KID_INTERVAL_S", ge=0
    )
    # Completion copies the object server-side: large files need longer than other commands.
    complete_timeout_s: float = Field(default=300.0, alias="INTAKE_COMPLETE_TIMEOUT_S", gt=0)
    retry_after_s: int = Field(default=5, alias="INTAKE_RETRY_AFTER_S", ge=1)
    max_body_bytes: int = Field(
        default=1024 * 1024, alias="INTAKE_MAX_BODY_BYTES", ge=1024, le=1024 * 1024
    )
    # Per tenant: a token bucket of `burst` requests refilled at `rate` per second; 0 = off.
    rate_limit_per_s: float = Field(default=200.0, alias="INTAKE_RATE_LIMIT_PER_S", ge=0)
    rate_limit_burst: int = Field(default=400, alias="INTAKE_RATE_LIMIT_BURST", ge=1)
    # Per client address, before the body is read or the token checked; 0 = off.
    client_rate_limit_per_s: float = Field(
        default=200.0, alias="INTAKE_CLIENT_RATE_LIMIT_PER_S", ge=0
    )
    client_rate_limit_burst: int = Field(default=1000, alias="INTAKE_CLIENT_RATE_LIMIT_BURST", ge=1)
    # Proxies whose X-Forwarded-For names the client (comma-separated addresses, or `*`).
    forwarded_allow_ips: str = Field(default="127.0.0.1", alias="INTAKE_FORWARDED_ALLOW_IPS")
    # Where the upload page's presigned PUTs go (its CSP connect-src besides the gateway):
    # comma-separated origins, `https://*.example.com` for per-tenant bucket hosts. Unset:
    # the origin of AWS_ENDPOINT_URL, or AWS's S3 hosts when that is unset too.
    storage_origins: str | None = Field(default=None, alias="INTAKE_STORAGE_ORIGINS")
    aws_endpoint_url: str | None = Field(default=None, alias="AWS_ENDPOINT_URL")
    # `#token=` in the page's address: read by the page in local development only, unless
    # set; production pages take a pasted token (a URL's fragment lands in history and
    # screenshots). The page learns it from its <meta name="intake-fragment-tokens">.
    fragment_tokens: Literal["allowed", "refused"] | None = Field(
        default=None, alias="INTAKE_FRAGMENT_TOKENS"
    )

    @field_validator("storage_origins")
    @classmethod
    def _origins(cls, value: str | None) -> str | None:
        if value is not None:
            wrong = [o for o in _split(value) if not _ORIGIN.fullmatch(o)]
            if wrong:
                raise ValueError(f"not origins (scheme://host[:port]): {', '.join(wrong)}")
        return value

    @property
    def storage_origin_list(self) -> list[str]:
        if self.storage_origins is not None:
            return _split(self.storage_origins)
        if self.aws_endpoint_url:
            parts = urlsplit(self.aws_endpoint_url)
            return [f"{parts.scheme}://{parts.netloc}"]
        return list(AWS_S3_ORIGINS)

    @property
    def fragment_tokens_allowed(self) -> bool:
        if self.fragment_tokens is None:
            return not self.production
        return self.fragment_tokens == "allowed"

    def refusals(self) -> list[str]:
        problems = super().refusals()
        if self.jwt_algorithm == "HS256":
            problems.extend(self._secret_problems())
        elif not (self.jwt_public_key or self.jwt_jwks_url):
            problems.append("INTAKE_JWT_PUBLIC_KEY: RS256 needs it or INTAKE_JWT_JWKS_URL")
        if self.production and not self.jwt_issuer:
            problems.append("INTAKE_JWT_ISSUER: required in production")
        if self.production and not self.jwt_audience:
            problems.append("INTAKE_JWT_AUDIENCE: required in production")
        return problems

    def _secret_problems(self) -> list[str]:
        if self.jwt_secret is None:
            return ["INTAKE_JWT_SECRET: required for HS256"]
        if not self.production:
            return []
        if self.jwt_secret == DEVELOPMENT_JWT_SECRET:
            return ["INTAKE_JWT_SECRET: is the published development secret"]
        if len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            return [f"INTAKE_JWT_SECRET: shorter than {MIN_SECRET_BYTES} bytes"]
        return []
