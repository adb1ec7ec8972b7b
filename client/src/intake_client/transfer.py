"""Bytes to S3: one presigned PUT of a file range, read from disk as it is sent."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx

from intake_client.retry import RetryableStatusError, is_retryable_status

READ_BLOCK = 1024 * 1024  # memory per in-flight request stays ~1 block, not a whole part


class RateLimit:
    """Paces bytes across every transfer of a run, for users sharing a thin link."""

    def __init__(self, bytes_per_s: float) -> None:
        self._rate = bytes_per_s
        self._next = time.monotonic()

    async def take(self, count: int) -> None:
        now = time.monotonic()
        delay = self._next - now
        self._next = max(now, self._next) + count / self._rate
        if delay > 0:
            await asyncio.sleep(delay)


class UrlRejectedError(Exception):
    """S3 refused the presigned URL (403: expired or bad signature): sign again, then retry."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"storage refused the signed URL ({status}): {body[:200]}")
        self.status = status


class StorageRefusedError(Exception):
    """S3 refused the request for a reason no retry can fix (4xx other than 403)."""


async def read_blocks(
    path: Path,
    offset: int,
    size: int,
    on_sent: Callable[[int], None],
    limit: RateLimit | None = None,
) -> AsyncIterator[bytes]:
    """The range's bytes in blocks, each read just before it is sent (never the whole file)."""
    with path.open("rb") as source:
        source.seek(offset)
        remaining = size
        while remaining > 0:
            # A thread keeps slow disks from stalling the other transfers on the event loop.
            block = await asyncio.to_thread(source.read, min(READ_BLOCK, remaining))
            if not block:
                raise OSError(f"{path} ended {remaining} bytes early: the file changed")
            remaining -= len(block)
            if limit is not None:
                await limit.take(len(block))
            yield block
            on_sent(len(block))


async def put_range(
    http: httpx.AsyncClient,
    url: str,
    path: Path,
    offset: int,
    size: int,
    *,
    headers: dict[str, str] | None = None,
    on_sent: Callable[[int], None] = lambda _: None,
    limit: RateLimit | None = None,
) -> str:
    """PUT bytes [offset, offset+size) of `path` to a presigned URL; returns the ETag.

    Raises:
        UrlRejectedError: 403, the URL must be signed again.
        RetryableStatusError: 5xx/429, the same request may succeed later.
        StorageRefusedError: any other refusal.
    """
    # Exactly the signed headers; Content-Length set explicitly keeps httpx from chunking.
    sent_headers = {"Content-Length": str(size), **(headers or {})}
    answer = await http.put(
        url, content=read_blocks(path, offset, size, on_sent, limit), headers=sent_headers
    )
    if answer.is_success:
        return str(answer.headers.get("ETag", ""))
    if answer.status_code == 403:
        raise UrlRejectedError(answer.status_code, answer.text)
    if is_retryable_status(answer.status_code):
        raise RetryableStatusError(answer.status_code, answer.text)
    raise StorageRefusedError(f"storage answered {answer.status_code}: {answer.text[:200]}")
