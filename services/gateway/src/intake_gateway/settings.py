"""The gateway's one configuration object."""

from typing import Literal

from pydantic import Field

from intake_runtime.settings import CorsSettings, ServiceSettings


class GatewaySettings(ServiceSettings, CorsSettings):
    host: str = Field(default="127.0.0.1", alias="INTAKE_GATEWAY_HOST")
    port: int = Field(default=8000, alias="INTAKE_GATEWAY_PORT", ge=0, le=65535)
    # Local development default only; every real deployment sets its own secret or keys.
    jwt_secret: str = Field(
        default="intake-local-development-only-jwt-secret", alias="INTAKE_JWT_SECRET"
    )
    jwt_algorithm: Literal["HS256", "RS256"] = Field(default="HS256", alias="INTAKE_JWT_ALGORITHM")
    jwt_public_key: str | None = Field(default=None, alias="INTAKE_JWT_PUBLIC_KEY")
    jwt_jwks_url: str | None = Field(default=None, alias="INTAKE_JWT_JWKS_URL")
    jwt_audience: str | None = Field(default=None, alias="INTAKE_JWT_AUDIENCE")
    # Completion copies the object server-side: large files need longer than other commands.
    complete_timeout_s: float = Field(default=300.0, alias="INTAKE_COMPLETE_TIMEOUT_S", gt=0)
    retry_after_s: int = Field(default=5, alias="INTAKE_RETRY_AFTER_S", ge=1)
