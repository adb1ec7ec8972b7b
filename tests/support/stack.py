"""The real Kafka, Postgres and S3 for a test run: native (default) or testcontainers."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "stack.sh"
sys.path.insert(0, str(ROOT / "deploy"))
import native_stack  # noqa: E402 - deploy/ is no package: found once it is on the path


def native_env() -> dict[str, str]:
    """Start the native stack (idempotent) and return the environment that reaches it."""
    subprocess.run(["bash", str(STACK), "up"], check=True, stdout=sys.stderr)
    return native_stack.stack_env()


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


def delete_namespace_topics(bootstrap: str, namespace: str) -> None:
    """A test run's topics go with it; a failure here only leaves them behind."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def delete() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
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
