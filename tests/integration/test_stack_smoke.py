"""The real stack behaves as the services rely on: Kafka, Postgres migrations, S3 signatures."""

import asyncio
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from intake_runtime.messaging.kafka import delete_topic, ensure_topics
from intake_runtime.postgres.migrations import RUNTIME_MIGRATIONS, migrate, migration_files
from tests.support import stack

pytestmark = pytest.mark.integration


async def test_idempotent_producer_and_consumer_group_round_trip(stack_env: dict[str, str]) -> None:
    access = stack.kafka_access(stack_env)
    topic = f"intake.smoke.{uuid.uuid4().hex[:8]}"
    await ensure_topics(access, [topic], partitions=12)
    admin = AIOKafkaAdminClient(**access.client_options())
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        assert len(described[0]["partitions"]) == 12
    finally:
        await admin.close()
    producer = AIOKafkaProducer(**access.client_options(), enable_idempotence=True, acks="all")
    consumer = AIOKafkaConsumer(
        topic,
        **access.client_options(),
        group_id=f"smoke-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    try:
        sent = {f"m{i}".encode() for i in range(20)}
        for value in sent:
            await producer.send_and_wait(topic, value, key=value)
        received: set[bytes] = set()
        async with asyncio.timeout(30):
            while received != sent:
                batch = await consumer.getmany(timeout_ms=500)
                received |= {record.value for records in batch.values() for record in records}
        await consumer.commit()
        assert received == sent
    finally:
        await producer.stop()
        await consumer.stop()
        await delete_topic(access, topic)


async def test_auto_topic_creation_is_off(stack_env: dict[str, str]) -> None:
    access = stack.kafka_access(stack_env)
    producer = AIOKafkaProducer(**access.client_options(), request_timeout_ms=3000)
    await producer.start()
    try:
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do; a success would not
            await asyncio.wait_for(
                producer.send_and_wait(f"never.created.{uuid.uuid4().hex}", b"x"), 10
            )
    finally:
        await producer.stop()


async def test_a_migration_applied_twice_is_a_no_op(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    schema = f"smoke_{uuid.uuid4().hex[:8]}"
    (tmp_path / "0001_things.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    (tmp_path / "0002_more.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
    pool = await asyncpg.create_pool(stack_env["DATABASE_URL"], min_size=1, max_size=4)
    try:
        first, concurrent = await asyncio.gather(
            migrate(pool, schema, tmp_path), migrate(pool, schema, tmp_path)
        )
        runtime = [f"runtime:{path.stem}" for path in migration_files(RUNTIME_MIGRATIONS)]
        expected = [*runtime, "service:0001_things", "service:0002_more"]
        assert sorted(first + concurrent) == expected
        assert await migrate(pool, schema, tmp_path) == []
        recorded = await pool.fetchval(f"SELECT count(*) FROM {schema}.schema_migrations")
        assert recorded == len(expected)
    finally:
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")
        await pool.close()


async def test_presigned_put_is_accepted_and_a_tampered_one_refused(s3: Any, bucket: str) -> None:
    key = f"smoke/{uuid.uuid4()}"
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60
    )
    tampered = url.replace(key, key + "-other")
    async with httpx.AsyncClient() as client:
        accepted = await client.put(url, content=b"payload")
        refused = await client.put(tampered, content=b"payload")
        anonymous = await client.put(url.split("?")[0], content=b"payload")
    assert accepted.status_code == 200
    assert refused.status_code == 403
    assert anonymous.status_code == 403
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"payload"
    s3.delete_object(Bucket=bucket, Key=key)
