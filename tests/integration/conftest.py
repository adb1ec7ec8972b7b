"""What the port contract suites need from the real S3 beside the adapter under test: writing
an object as a client's upload would, and looking whether one is there."""

import asyncio
from typing import Any

import pytest

from tests.support import storage
from tests.support.contracts.completion_storage import Exists, Put, Read


@pytest.fixture
def put(s3: Any) -> Put:
    async def put(bucket: str, key: str, data: bytes) -> None:
        await asyncio.to_thread(s3.put_object, Bucket=bucket, Key=key, Body=data)

    return put


@pytest.fixture
def read(s3: Any) -> Read:
    async def read(bucket: str, key: str) -> bytes:
        answer = await asyncio.to_thread(s3.get_object, Bucket=bucket, Key=key)
        body: bytes = await asyncio.to_thread(answer["Body"].read)
        return body

    return read


@pytest.fixture
def exists(s3: Any) -> Exists:
    async def exists(bucket: str, key: str) -> bool:
        return await asyncio.to_thread(storage.exists, s3, bucket, key)

    return exists
