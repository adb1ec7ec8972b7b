"""Production mode refuses to start on unsafe settings, one line per problem (issue #10).

Each case starts the real service command with the settings a careless deployment would
give it and reads what it printed before exiting.
"""

import os
import subprocess

import pytest

from tests.support import stack

pytestmark = pytest.mark.e2e

BIN = stack.ROOT / ".venv" / "bin"
STRONG_SECRET = "s" * 32
DEV_SECRET = "intake-local-development-only-jwt-secret"


# A Kafka production accepts, so that each case shows only the refusals it is about.
SECURED_KAFKA = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_USERNAME": "gateway",
    "KAFKA_SASL_PASSWORD": "from-its-secret",
}


def refusal(service: str, **settings: str) -> list[str]:
    """The lines a service prints when it refuses to start; fails if it started."""
    env = {"PATH": os.environ["PATH"], **SECURED_KAFKA, **settings}
    done = subprocess.run(
        [str(BIN / f"intake-{service}")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    return done.stderr.splitlines()


def test_gateway_refuses_the_published_secret_and_missing_issuer_and_audience() -> None:
    lines = refusal("gateway", INTAKE_ENV="production", INTAKE_JWT_SECRET=DEV_SECRET)
    assert lines == [
        "intake-gateway: configuration error: INTAKE_JWT_SECRET: is the published development secret",
        "intake-gateway: configuration error: INTAKE_JWT_ISSUER: required in production",
        "intake-gateway: configuration error: INTAKE_JWT_AUDIENCE: required in production",
    ]


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("k", "INTAKE_JWT_SECRET: shorter than 32 bytes"),
        ("", "INTAKE_JWT_SECRET: required for HS256"),
        (None, "INTAKE_JWT_SECRET: required for HS256"),
    ],
)
def test_gateway_refuses_a_short_or_absent_secret(secret: str | None, problem: str) -> None:
    settings = {"INTAKE_ENV": "production", "INTAKE_JWT_ISSUER": "i", "INTAKE_JWT_AUDIENCE": "a"}
    if secret is not None:
        settings["INTAKE_JWT_SECRET"] = secret
    assert refusal("gateway", **settings) == [f"intake-gateway: configuration error: {problem}"]


def test_gateway_with_rs256_and_no_key_refuses_to_start_even_locally() -> None:
    lines = refusal("gateway", INTAKE_ENV="local", INTAKE_JWT_ALGORITHM="RS256")
    problem = "INTAKE_JWT_PUBLIC_KEY: RS256 needs it or INTAKE_JWT_JWKS_URL"
    assert lines == [f"intake-gateway: configuration error: {problem}"]


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT"])
def test_production_refuses_a_plaintext_or_unauthenticated_kafka(protocol: str) -> None:
    lines = refusal(
        "audit",
        INTAKE_ENV="production",
        DATABASE_URL="postgresql://audit@db.example.invalid/intake",
        KAFKA_SECURITY_PROTOCOL=protocol,
    )
    problem = f"KAFKA_SECURITY_PROTOCOL: {protocol} in production;"
    problem += " Kafka must be SASL_SSL (authenticated and encrypted)"
    assert lines == [f"intake-audit: configuration error: {problem}"]


def test_a_sasl_kafka_without_credentials_is_refused_even_locally() -> None:
    lines = refusal("audit", INTAKE_ENV="local", KAFKA_SASL_USERNAME="", KAFKA_SASL_PASSWORD="")
    problem = "KAFKA_SASL_USERNAME: SASL_SSL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
    assert lines == [f"intake-audit: configuration error: {problem}"]


def test_the_default_mode_is_production() -> None:
    lines = refusal("gateway", INTAKE_JWT_SECRET=STRONG_SECRET)
    assert "intake-gateway: configuration error: INTAKE_JWT_ISSUER: required in production" in lines


def test_initiation_refuses_without_database_url_and_with_half_a_key_pair() -> None:
    lines = refusal(
        "initiation",
        INTAKE_ENV="production",
        AWS_ACCESS_KEY_ID="AKIAEXAMPLE",
        STORAGE_PROVISION_STRATEGY="per_tenant",
        AWS_BUCKET="a-bucket-name-far-too-long-for-tenants",
    )
    prefix = "intake-initiation: configuration error: "
    keys = "set together with AWS_SECRET_ACCESS_KEY, or neither (the default credential chain)"
    bucket = (
        "'a-bucket-name-far-too-long-for-tenants' leaves 24 characters for tenant ids of up "
        "to 40; per_tenant needs a base of at most 22 characters"
    )
    assert sorted(lines) == [
        f"{prefix}AWS_ACCESS_KEY_ID: {keys}",
        f"{prefix}AWS_BUCKET: {bucket}",
        f"{prefix}DATABASE_URL: required in production",
    ]


@pytest.mark.parametrize("service", ["completion", "cleanup", "audit"])
def test_every_database_service_needs_its_url_in_production(service: str) -> None:
    assert refusal(service, INTAKE_ENV="production") == [
        f"intake-{service}: configuration error: DATABASE_URL: required in production"
    ]
