"""S3 and Kafka edges of issue #10, against the real SeaweedFS and Kafka."""

import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import BaseModel

from intake_contracts import topics
from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.messaging.kafka import provision_shared_topics
from intake_runtime.messaging.requests import CommandTooLargeError
from intake_runtime.settings import S3Settings
from intake_runtime.storage.s3 import ObjectNotFoundError, ObjectStore, open_object_store
from tests.support import stack
from tests.support.commands import request_client

pytestmark = pytest.mark.integration

OWNER = "123456789012"


def s3_settings(stack_env: dict[str, str], **changes: str) -> S3Settings:
    return S3Settings(**{**stack_env, **changes})


async def test_the_expected_bucket_owner_goes_with_every_call(stack_env: dict[str, str]) -> None:
    settings = s3_settings(stack_env, AWS_EXPECTED_BUCKET_OWNER=OWNER)
    bucket, key = settings.aws_bucket, f"temp/uploads/{uuid.uuid4()}/original"
    sent: list[tuple[str, bytes | None]] = []

    def record(request: Any, **_: Any) -> None:
        sent.append((request.method, request.headers.get("x-amz-expected-bucket-owner")))

    async def record_direct(_: Any, __: Any, params: aiohttp.TraceRequestStartParams) -> None:
        owner = params.headers.get("x-amz-expected-bucket-owner")
        sent.append((params.method, owner.encode() if owner else None))

    tracing = aiohttp.TraceConfig()
    tracing.on_request_start.append(record_direct)
    async with (
        open_object_store(settings) as opened,
        aiohttp.ClientSession(trace_configs=[tracing]) as http,
    ):
        # HEAD and DELETE go out directly (not through botocore): recorded by the trace.
        store = ObjectStore(opened._client, settings, opened._credentials, http)
        store._client.meta.events.register("before-send.s3", record)
        await store.ensure_bucket(bucket)
        upload_id = (await store.create_multipart(bucket, key, "image/png")).upload_id
        await store.list_parts(bucket, key, upload_id)
        await store.abort_multipart(bucket, key, upload_id)
        await store.head(bucket, key)
        with pytest.raises(ObjectNotFoundError):  # a direct copy, then botocore's
            await store.copy(bucket, key, f"{key}-copy", 1, threshold=1024)
        await store.delete(bucket, key)
        async for _ in store.iter_objects(bucket, key):
            pass
        async for _ in store.iter_multipart_uploads(bucket, key):
            pass
    # Ten calls of ours, the first the bucket's CORS rule read (rewritten when another process
    # left other origins on it): every one of them names the owner.
    assert len(sent) >= 10
    assert {owner for _, owner in sent} == {OWNER.encode()}
    assert ("HEAD", OWNER.encode()) in sent
    assert ("PUT", OWNER.encode()) in sent  # the direct copy


async def test_without_keys_the_default_credential_chain_is_used(
    stack_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\n"
        f"aws_access_key_id = {stack_env['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {stack_env['AWS_SECRET_ACCESS_KEY']}\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    settings = S3Settings(
        INTAKE_ENV="production",
        AWS_ENDPOINT_URL=stack_env["AWS_ENDPOINT_URL"],
        AWS_BUCKET=stack_env["AWS_BUCKET"],
    )
    assert settings.aws_access_key_id is None
    async with open_object_store(settings) as store:
        assert stack_env["AWS_BUCKET"] in await store.list_buckets()


class Oversized(BaseModel):
    blob: str


async def test_a_command_kafka_cannot_take_is_too_large_not_unavailable(
    stack_env: dict[str, str],
) -> None:
    settings = stack.kafka_settings(stack_env)
    # This run's namespace has its topics only once a service started: Kafka must know the
    # topic to judge the message's size rather than wait for the topic to appear.
    await provision_shared_topics(KafkaAccess.of(settings), settings.topic_partitions)
    async with request_client(stack_env, "edge-tests", timeout_s=30) as client:
        with pytest.raises(CommandTooLargeError):
            await client.request(
                topics.INITIATION_COMMANDS,
                "initiation.get_session",
                Oversized(blob="x" * (2 * 1024 * 1024)),
                principal=None,
            )
