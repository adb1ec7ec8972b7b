"""Bytes to S3: one presigned PUT of a file range, read from disk as it is sent.

Two carriers, one contract: `Storage` (standard library, sendfile; what UploadManager uses
unless given a client) and an httpx.AsyncClient (for callers that route, throttle or mock the
traffic through httpx's transports). httpx is never imported here: a caller that uses it has.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from intake_client.retry import RetryableStatusError, is_retryable_status
from intake_client.storage import Pace, Storage
from intake_client.wire import off_loop

if TYPE_CHECKING:
    import httpx

READ_BLOCK = 1024 * 1024  # memory per in-flight request stays ~1 block, not a whole part


class RateLimit:
    """Paces bytes across every transfer of a run, for users sharing a thin link."""

    def __init__(self, bytes_per_s: float) -> None:
        self.pace = Pace(bytes_per_s)

    async def take(self, count: int) -> None:
        delay = self.pace.reserve(count)
        if delay > 0:
            await asyncio.sleep(delay)


class UrlRejectedError(Exception):
    """S3 refused the presigned URL (403: expired or bad signature): sign again, then retry."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"storage refused the signed URL ({status}): {body[:200]}")
        self.status = status


class StorageRefusedError(Exception):
    """S3 refused the request for a reason no retry can fix (4xx other than 403)."""


class DigestRefusedError(StorageRefusedError):
    """S3 refused the bytes: they do not match the checksum the URL signed (400 BadDigest).
    The bytes were damaged on their way, or the file changed: read the part again."""


# S3's codes for a body that does not match its declared checksum (AWS, SeaweedFS).
_DIGEST_CODES = ("<Code>BadDigest</Code>", "<Code>XAmzContentChecksumMismatch</Code>")


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
    http: "Storage | httpx.AsyncClient",
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
        StorageUnreachableError (Storage) or an httpx.TransportError: a network failure.
        StorageRefusedError: any other refusal.
    """
    if isinstance(http, Storage):
        status, etag, text = await _put_on_thread(
            http, url, path, offset, size, headers=headers, on_sent=on_sent, limit=limit
        )
    else:
        # Exactly the signed headers; Content-Length set explicitly keeps httpx from chunking.
        sent_headers = {"Content-Length": str(size), **(headers or {})}
        answer = await http.put(
            url, content=read_blocks(path, offset, size, on_sent, limit), headers=sent_headers
        )
        status, text = answer.status_code, answer.text
        etag = str(answer.headers.get("ETag", ""))
    if 200 <= status < 300:
        return etag
    if status == 403:
        raise UrlRejectedError(status, text)
    if is_retryable_status(status):
        raise RetryableStatusError(status, text)
    if status == 400 and any(code in text for code in _DIGEST_CODES):
        raise DigestRefusedError(f"storage refused the bytes ({status}): {text[:200]}")
    raise StorageRefusedError(f"storage answered {status}: {text[:200]}")


async def _put_on_thread(
    storage: Storage,
    url: str,
    path: Path,
    offset: int,
    size: int,
    *,
    headers: dict[str, str] | None,
    on_sent: Callable[[int], None],
    limit: RateLimit | None,
) -> tuple[int, str, str]:
    loop = asyncio.get_running_loop()
    stop = False

    def sent_from_thread(count: int) -> None:
        # Progress is reported on the loop, in order: callers' callbacks never see a thread,
        # and every count lands before the PUT's own answer does (both queue on the loop).
        if not stop:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
                loop.call_soon_threadsafe(on_sent, count)

    try:
        answer = await off_loop(
            lambda: storage.put(url, path, offset, size, headers=headers,
                                on_sent=sent_from_thread, pace=limit.pace if limit else None)
        )  # fmt: skip
    except BaseException:
        stop = True  # a cancelled or failed attempt reports no more progress
        raise
    return answer.status, answer.etag, answer.body
