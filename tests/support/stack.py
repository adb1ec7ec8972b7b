"""The real Kafka, Postgres and S3 for a test run: native (default) or testcontainers."""

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "stack.sh"
sys.path.insert(0, str(ROOT / "deploy"))
import stack_principals  # noqa: E402 - deploy/ is no package: found once it is on the path

if TYPE_CHECKING:
    from intake_runtime.messaging.access import KafkaAccess
    from intake_runtime.settings import ServiceSettings


def native_env() -> dict[str, str]:
    """Start the native stack (idempotent) and return the environment that reaches it."""
    subprocess.run(["bash", str(STACK), "up"], check=True, stdout=sys.stderr)
    return stack_principals.stack_env()


def containers_env() -> dict[str, str]:  # pragma: no cover - needs a Docker engine
    """Alternative when a Docker engine exists and INTAKE_TEST_STACK=testcontainers."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    kafka = KafkaContainer("apache/kafka:4.1.1").with_kraft()
    kafka.start()
    postgres = PostgresContainer(
        "postgres:15", username="intake", password="intake", dbname="intake"
    )
    postgres.start()
    s3 = (
        DockerContainer("chrislusf/seaweedfs:4.48")
        .with_command("server -s3 -s3.port=8333")
        .with_exposed_ports(8333)
    )
    s3.start()
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.get_bootstrap_server(),
        "DATABASE_URL": postgres.get_connection_url(driver=None),
        "AWS_ENDPOINT_URL": f"http://{s3.get_container_host_ip()}:{s3.get_exposed_port(8333)}",
    }


def kafka_settings(env: Mapping[str, str]) -> "ServiceSettings":
    """Settings that reach the Kafka `env` names, as `env`'s principal (the stack's admin for
    `stack_env`), whatever this process's own environment says."""
    from intake_runtime.messaging.access import SECURITY_VARIABLES
    from intake_runtime.settings import ServiceSettings

    wanted = ("KAFKA_BOOTSTRAP_SERVERS", *SECURITY_VARIABLES)
    return ServiceSettings.model_validate({k: env[k] for k in wanted if env.get(k)})


def kafka_access(env: Mapping[str, str]) -> "KafkaAccess":
    from intake_runtime.messaging.access import KafkaAccess

    return KafkaAccess.from_env(env)


def s3_client(env: Mapping[str, str], **config: Any) -> Any:
    """A plain boto3 S3 client on `env`'s endpoint and keys (the stack admin's for
    `stack_env`), path-style, signed v4; `config`: more botocore Config options."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, **config),
    )


def delete_namespace_topics(env: Mapping[str, str], namespace: str) -> None:
    """A test run's topics go with it; a failure here only leaves them behind. `env` must be
    an admin's (`stack_env`): only the admin may delete every topic of a namespace."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def delete() -> None:
        admin = AIOKafkaAdminClient(**kafka_access(env).client_options())
        await admin.start()
        try:
            ours = [name for name in await admin.list_topics() if name.startswith(f"{namespace}.")]
            if ours:
                await admin.delete_topics(ours)
        finally:
            await admin.close()

    try:
        asyncio.run(delete())
    except Exception as error:
        sys.stderr.write(f"topics of namespace {namespace} not deleted: {error}\n")


def stack_env() -> dict[str, str]:
    if os.environ.get("INTAKE_TEST_STACK") == "testcontainers":
        return {**native_defaults(), **containers_env()}
    return native_env()


def native_defaults() -> dict[str, str]:
    return {
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "intake-dev-access-key",
        "AWS_SECRET_ACCESS_KEY": "intake-dev-secret-key",
        "AWS_BUCKET": "intake-uploads",
    }
