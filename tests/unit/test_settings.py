"""Local defaults only in local mode; production means AWS and its credential chain."""

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from intake_audit.settings import AuditSettings
from intake_cleanup.settings import CleanupSettings
from intake_completion.settings import CompletionSettings
from intake_gateway.settings import GatewaySettings
from intake_initiation.settings import InitiationSettings
from intake_runtime.settings import PostgresSettings, S3Settings, ServiceSettings

EVERY_SETTINGS: tuple[type[BaseSettings], ...] = (
    AuditSettings,
    CleanupSettings,
    CompletionSettings,
    GatewaySettings,
    InitiationSettings,
)

STACK_VARIABLES = (
    "INTAKE_ENV",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "DATABASE_URL",
    "INTAKE_JWT_SECRET",
    "AWS_BUCKET",
    "KAFKA_BOOTSTRAP_SERVERS",
)


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in STACK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_production_talks_to_aws_with_the_default_credential_chain() -> None:
    settings = S3Settings(INTAKE_ENV="production")
    assert settings.aws_endpoint_url is None
    assert (settings.aws_access_key_id, settings.aws_secret_access_key) == (None, None)
    assert settings.refusals() == []


def test_an_empty_endpoint_means_aws_not_a_crash() -> None:
    assert S3Settings(INTAKE_ENV="production", AWS_ENDPOINT_URL="").aws_endpoint_url is None


def test_local_mode_fills_the_native_stack_defaults() -> None:
    settings = S3Settings(INTAKE_ENV="local")
    assert settings.aws_endpoint_url == "http://127.0.0.1:18333"
    assert settings.aws_access_key_id == "intake-dev-access-key"
    assert PostgresSettings(INTAKE_ENV="local").database_url is not None
    assert GatewaySettings(INTAKE_ENV="local").refusals() == []


def test_unset_mode_is_production() -> None:
    assert PostgresSettings().refusals() == ["DATABASE_URL: required in production"]


SECURED_KAFKA = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_USERNAME": "gateway",
    "KAFKA_SASL_PASSWORD": "from-a-secret",
}


def test_production_accepts_a_strong_secret_with_issuer_and_audience() -> None:
    settings = GatewaySettings(
        INTAKE_ENV="production",
        INTAKE_JWT_SECRET="x" * 32,
        INTAKE_JWT_ISSUER="https://idp",
        INTAKE_JWT_AUDIENCE="intake",
        **SECURED_KAFKA,
    )
    assert settings.refusals() == []


@pytest.mark.parametrize(
    ("kafka", "problem"),
    [
        ({}, "KAFKA_SECURITY_PROTOCOL: PLAINTEXT in production"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL"}, "KAFKA_SECURITY_PROTOCOL: SSL in production"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "u",
             "KAFKA_SASL_PASSWORD": "p"},
            "KAFKA_SECURITY_PROTOCOL: SASL_PLAINTEXT in production",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_USERNAME: SASL_SSL needs"),
        ({**SECURED_KAFKA, "KAFKA_SSL_CAFILE": "/nowhere/ca.crt"}, "KAFKA_SSL_CAFILE: /nowhere"),
    ],
)  # fmt: skip
def test_production_refuses_a_plaintext_or_unauthenticated_kafka(
    kafka: dict[str, str], problem: str
) -> None:
    settings = ServiceSettings(INTAKE_ENV="production", **kafka)
    assert any(line.startswith(problem) for line in settings.refusals()), settings.refusals()


def test_local_mode_allows_a_plaintext_kafka() -> None:
    assert ServiceSettings(INTAKE_ENV="local").refusals() == []


def test_a_test_only_crash_point_is_refused_in_production_only() -> None:
    production = CompletionSettings(
        INTAKE_ENV="production",
        DATABASE_URL="postgresql://u@db.invalid/intake",
        INTAKE_COMPLETION_FAULT="crash_during_promotion",
    )
    local = CompletionSettings(INTAKE_ENV="local", INTAKE_COMPLETION_FAULT="crash_during_promotion")

    assert any(p.startswith("INTAKE_COMPLETION_FAULT") for p in production.refusals())
    assert local.refusals() == []


def test_every_field_is_read_from_one_named_variable() -> None:
    for settings in EVERY_SETTINGS:
        for name, field in settings.model_fields.items():
            assert field.alias, f"{settings.__name__}.{name} names no variable"
            assert field.alias == field.alias.upper(), f"{settings.__name__}.{name}"


def test_the_variable_is_the_only_spelling() -> None:
    # A field's Python name is no second way in: code and tests use the variable too, in
    # any case, as the environment does.
    assert S3Settings(s3_timeout_s="1").s3_timeout_s == 10
    assert S3Settings(INTAKE_S3_TIMEOUT_S="1").s3_timeout_s == 1
    assert S3Settings(intake_s3_timeout_s="1").s3_timeout_s == 1
    assert ServiceSettings(KAFKA_BOOTSTRAP_SERVERS="k:1").kafka_bootstrap_servers == "k:1"


def test_a_shared_variable_has_one_field_name_and_one_set_of_bounds() -> None:
    declared: dict[str, set[tuple[str, str]]] = {}
    for settings in EVERY_SETTINGS:
        for name, field in settings.model_fields.items():
            declared.setdefault(str(field.alias), set()).add((name, repr(field.metadata)))
    shared = {alias: fields for alias, fields in declared.items() if len(fields) > 1}
    assert shared == {}
    assert len(declared["INTAKE_COMMAND_WORKERS"]) == 1


def test_services_keep_their_own_defaults_of_a_shared_field() -> None:
    assert CleanupSettings().command_workers == 2
    assert InitiationSettings().command_workers == 4
    assert CompletionSettings().s3_timeout_s == 300
    assert S3Settings().s3_timeout_s == 10
    with pytest.raises(ValueError, match="INTAKE_COMMAND_WORKERS"):
        CleanupSettings(INTAKE_COMMAND_WORKERS="0")


def test_the_readme_names_every_variable() -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    text = readme.read_text()
    configuration = text[text.index("## Configuration") :]
    unnamed = sorted(
        str(field.alias)
        for settings in EVERY_SETTINGS
        for field in settings.model_fields.values()
        if f"`{field.alias}`" not in configuration
    )
    assert unnamed == [], f"README.md's Configuration section lacks {unnamed}"
