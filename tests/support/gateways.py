"""A gateway of its own for a test that needs settings the shared one must not have."""

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt

from tests.conftest import System, free_port, launcher


@contextlib.contextmanager
def own_gateway(system: System, log_dir: Path, **overrides: str) -> Iterator[str]:
    """A second gateway process on the same stack and services; yields its base URL."""
    port, metrics_port = free_port(), free_port()
    env = {
        **system.processes["gateway"].env,
        "INTAKE_GATEWAY_PORT": str(port),
        "INTAKE_METRICS_PORT": str(metrics_port),
        "INTAKE_INSTANCE_ID": uuid.uuid4().hex[:12],
        **overrides,
    }
    process = launcher.ServiceProcess("gateway", env, log_dir, metrics_port, api_port=port)
    process.start()
    try:
        process.wait_ready(90)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


# A production gateway's token rules (test values only): its own secret, issuer and audience.
PRODUCTION_JWT_SECRET = "intake-test-production-secret-not-for-use"
PRODUCTION_ISSUER = "https://id.intake.test"
PRODUCTION_AUDIENCE = "intake"


@contextlib.contextmanager
def production_gateway(system: System, log_dir: Path, **overrides: str) -> Iterator[str]:
    """A second gateway in production mode (INTAKE_ENV=production, with the token settings
    production requires) on the same stack and services; yields its base URL."""
    with own_gateway(
        system,
        log_dir,
        INTAKE_ENV="production",
        INTAKE_JWT_SECRET=PRODUCTION_JWT_SECRET,
        INTAKE_JWT_ISSUER=PRODUCTION_ISSUER,
        INTAKE_JWT_AUDIENCE=PRODUCTION_AUDIENCE,
        **overrides,
    ) as url:
        yield url


def production_token(token: str) -> str:
    """`token`'s claims, issued for the production gateway (its issuer, audience, secret)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    claims |= {"iss": PRODUCTION_ISSUER, "aud": PRODUCTION_AUDIENCE}
    return jwt.encode(claims, PRODUCTION_JWT_SECRET, algorithm="HS256")
