"""The object store opened from settings: the botocore client's configuration (timeouts,
retries, addressing style, connection pool) and the HTTP session of the presigned fast path."""

import contextlib
from collections.abc import AsyncIterator

import aioboto3
import aiohttp
from botocore.config import Config

from intake_runtime.settings import S3Settings
from intake_runtime.storage.s3.store import ObjectStore


@contextlib.asynccontextmanager
async def open_object_store(settings: S3Settings) -> AsyncIterator[ObjectStore]:
    session = aioboto3.Session(
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        region_name=settings.aws_region,
    )
    config = Config(
        signature_version="s3v4",
        # S3-compatible servers want path-style; AWS itself prefers virtual-hosted URLs.
        s3={"addressing_style": "path" if settings.aws_endpoint_url else "virtual"},
        connect_timeout=settings.s3_timeout_s,
        read_timeout=settings.s3_timeout_s,
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=50,
    )
    timeout = aiohttp.ClientTimeout(total=settings.s3_timeout_s)
    async with (
        session.client("s3", endpoint_url=settings.aws_endpoint_url, config=config) as client,
        aiohttp.ClientSession(timeout=timeout) as http,
    ):
        yield ObjectStore(client, settings, await session.get_credentials(), http)
