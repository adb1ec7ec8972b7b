"""The gateway's one configuration object."""

from typing import Final, Literal

from pydantic import Field

from intake_runtime.settings import CorsSettings, ServiceSettings, local_only

# Published in the README: a token signed with it proves nothing outside a laptop.
DEVELOPMENT_JWT_SECRET: Final = "intake-local-development-only-jwt-secret"  # noqa: S105
SERVICE: Final = "gateway"
MIN_SECRET_BYTES: Final = 32


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
