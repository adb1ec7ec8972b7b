"""One file's bytes to S3: parallel multipart parts or one direct PUT, with retry and re-sign."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from intake_client.api import MAX_PARTS_PER_SIGNING
from intake_client.checksums import PartChecksums
from intake_client.digests import HEADERS, checksum_of
from intake_client.errors import IntakeApiError, TransferError
from intake_client.models import DirectUpload, PartUrl
from intake_client.plan import Part
from intake_client.progress import FileTracker
from intake_client.retry import RetryPolicy, is_retryable
from intake_client.transfer import DigestRefusedError, RateLimit, UrlRejectedError, put_range

if TYPE_CHECKING:
    import httpx

    from intake_client.storage import Storage

# A URL this close to expiry is signed again before use: a part may take a while to send.
EXPIRY_MARGIN = timedelta(seconds=30)
# 403s in a row one part may get before we stop re-signing: a real denial is not an expiry.
MAX_RESIGNS_PER_PART = 3


# (session id, part numbers, their checksums or None) → their presigned URLs; tests hand in
# one that misbehaves.
PartSigner = Callable[[str, list[int], list[str] | None], Awaitable[list[PartUrl]]]


@dataclass
class TransferStats:
    parts_sent: int = 0
    resigned: int = 0
    retries: int = 0
    resent_for_digest: int = 0  # parts S3 refused for a bad digest and got again
    etags: dict[int, str] = field(default_factory=dict)


@dataclass
class Transfer:
    """What every part PUT of a run shares: the S3 HTTP client, the global slots, the policy."""

    http: "Storage | httpx.AsyncClient"
    slots: asyncio.Semaphore  # bounds in-flight PUTs across all files: memory and sockets
    retry: RetryPolicy
    limit: RateLimit | None = None


class MultipartSender:
    """Sends the given parts of one session with `parallel` workers, signing ≤100 at a time."""

    def __init__(
        self,
        transfer: Transfer,
        signer: PartSigner,
        session_id: str,
        path: Path,
        *,
        tracker: FileTracker,
        on_part_done: Callable[[int, str], None],
        signed: list[PartUrl] | None = None,
        checksums: PartChecksums | None = None,
    ) -> None:
        """`checksums`: the session declared an algorithm; each URL signs its part's checksum."""
        self._transfer, self._signer, self._session_id = transfer, signer, session_id
        self._checksums = checksums
        self._path, self._tracker, self._on_part_done = path, tracker, on_part_done
        # URLs signed ahead (generation 0) are used like any other, re-signed when stale.
        self._urls: dict[int, PartUrl] = {url.part_number: url for url in signed or []}
        # part number → which signing call made its URL
        self._generation: dict[int, int] = dict.fromkeys(self._urls, 0)
        self._signings = 0
        self._pending: list[int] = []
        self._parallel = 1
        self._sign_lock = asyncio.Lock()
        self.stats = TransferStats()

    async def send(self, parts: list[Part], parallel: int) -> TransferStats:
        queue: asyncio.Queue[Part] = asyncio.Queue()
        for part in parts:
            queue.put_nowait(part)
        self._pending = [part.number for part in parts]
        self._parallel = parallel
        try:
            async with asyncio.TaskGroup() as workers:
                for _ in range(min(parallel, len(parts))):
                    workers.create_task(self._worker(queue))
        except ExceptionGroup as group:
            # The first failure is the story; the other workers were cancelled because of it.
            raise group.exceptions[0] from None
        finally:
            if self._checksums is not None:
                self._checksums.close()
        return self.stats

    async def _worker(self, queue: "asyncio.Queue[Part]") -> None:
        while not queue.empty():
            part = queue.get_nowait()
            etag = await self._send_part(part)
            self._pending.remove(part.number)
            self.stats.parts_sent += 1
            self.stats.etags[part.number] = etag
            self._tracker.part_done(part.number, part.size)
            self._on_part_done(part.number, etag)

    async def _send_part(self, part: Part) -> str:
        attempt, rejections, rejected_url, refused_digests = 1, 0, None, 0
        while True:
            try:
                async with self._transfer.slots:
                    # Signed only once a slot is free, so a URL is fresh when it is used.
                    url = await self._url(part.number, rejected_url)
                    return await put_range(
                        self._transfer.http, url.url, self._path, part.offset, part.size,
                        headers=url.headers or None,
                        on_sent=lambda n: self._tracker.part_sent(part.number, part.size, n),
                        limit=self._transfer.limit,
                    )  # fmt: skip
            except IntakeApiError:
                raise  # signing refused (cancelled, expired…): already retried where it can be
            except DigestRefusedError as error:
                # Only this part is read and sent again, on the same URL: its signed checksum
                # still holds unless the file changed, and then no retry can help.
                self._tracker.part_reset(part.number)
                refused_digests += 1
                await self._check_unchanged(part, error, refused_digests)
                self.stats.resent_for_digest += 1
            except UrlRejectedError as error:
                self._tracker.part_reset(part.number)
                rejections, rejected_url = rejections + 1, url.url
                if rejections > MAX_RESIGNS_PER_PART:
                    raise TransferError(f"part {part.number}: {error}") from error
            except Exception as error:
                self._tracker.part_reset(part.number)
                if attempt >= self._transfer.retry.attempts or not is_retryable(error):
                    raise TransferError(f"part {part.number}: {error}") from error
                self.stats.retries += 1
                await asyncio.sleep(self._transfer.retry.delay(attempt))
                attempt += 1

    async def _check_unchanged(self, part: Part, error: Exception, refusals: int) -> None:
        """Raises TransferError when the part's bytes on disk are not the ones signed, or S3
        refused them more often than the retry policy allows."""
        if self._checksums is None or refusals > self._transfer.retry.attempts:
            raise TransferError(f"part {part.number}: {error}") from error
        signed = await self._checksums.of(part.number)
        if await self._checksums.again(part) != signed:
            raise TransferError(f"part {part.number}: the file changed while it was uploading")

    async def _url(self, number: int, rejected: str | None) -> PartUrl:
        async with self._sign_lock:
            cached = self._urls.get(number)
            if cached is not None and cached.url == rejected:
                # Its whole signing batch shares the cause (expiry, bad key): sign them anew.
                generation = self._generation[number]
                for other in [n for n, g in self._generation.items() if g == generation]:
                    self._urls.pop(other, None)
            cached = self._urls.get(number)
            if cached is None or _expiring(cached):
                if rejected is not None or number in self._generation:
                    self.stats.resigned += 1
                await self._sign_from(number)
            return self._urls[number]

    async def _sign_from(self, number: int) -> None:
        # This part and the next pending ones without a usable URL, ≤100 per call; with
        # checksums, only those already hashed, after waiting for as many as the workers
        # send at once (they need them next anyway).
        checksums = self._checksums
        unsigned = [
            n for n in self._pending
            if n != number and (n not in self._urls or _expiring(self._urls[n]))
        ]  # fmt: skip
        wanted = [number, *unsigned[: MAX_PARTS_PER_SIGNING - 1]]
        signed: list[str] | None = None
        if checksums is not None:
            for soon in wanted[: self._parallel]:
                await checksums.of(soon)
            wanted = [n for n in wanted if checksums.ready(n) is not None]
            signed = [checksums.ready(n) or "" for n in wanted]
        self._signings += 1
        for url in await self._signer(self._session_id, wanted, signed):
            self._urls[url.part_number] = url
            self._generation[url.part_number] = self._signings


async def _check_file_unchanged(  # noqa: PLR0917 - one call site, send_direct's state
    direct: DirectUpload,
    path: Path,
    size: int,
    error: Exception,
    refusals: int,
    transfer: Transfer,
) -> None:
    """Raises TransferError unless the file still hashes to the checksum its URL signed (then
    S3's refusal was the network's damage, and the same PUT is sent again)."""
    signed = [(a, direct.headers[h]) for a, h in HEADERS.items() if h in direct.headers]
    if not signed or refusals > transfer.retry.attempts:
        raise TransferError(str(error)) from error
    [(algorithm, checksum)] = signed
    if await asyncio.to_thread(checksum_of, path, 0, size, algorithm) != checksum:
        raise TransferError(f"{path} changed while it was uploading") from error


def _expiring(url: PartUrl) -> bool:
    return url.expires_at - EXPIRY_MARGIN <= datetime.now(UTC)


async def send_direct(
    transfer: Transfer,
    direct: DirectUpload,
    path: Path,
    size: int,
    *,
    tracker: FileTracker,
    fresh_url: Callable[[], Awaitable[DirectUpload]],
) -> TransferStats:
    """One PUT with exactly the signed headers; a refused or expiring URL is fetched again."""
    stats, attempt, rejections, refused_digests = TransferStats(), 1, 0, 0
    while True:
        try:
            if direct.expires_at - EXPIRY_MARGIN <= datetime.now(UTC):
                direct, stats.resigned = await fresh_url(), stats.resigned + 1
            async with transfer.slots:
                await put_range(
                    transfer.http, direct.url, path, 0, size, headers=direct.headers,
                    on_sent=lambda n: tracker.part_sent(1, size, n), limit=transfer.limit,
                )  # fmt: skip
            break
        except IntakeApiError:
            raise
        except DigestRefusedError as error:
            tracker.part_reset(1)
            refused_digests += 1
            await _check_file_unchanged(direct, path, size, error, refused_digests, transfer)
            stats.resent_for_digest += 1
        except UrlRejectedError as error:
            tracker.part_reset(1)
            rejections += 1
            if rejections > MAX_RESIGNS_PER_PART:
                raise TransferError(str(error)) from error
            direct, stats.resigned = await fresh_url(), stats.resigned + 1
        except Exception as error:
            tracker.part_reset(1)
            if attempt >= transfer.retry.attempts or not is_retryable(error):
                raise TransferError(str(error)) from error
            stats.retries += 1
            await asyncio.sleep(transfer.retry.delay(attempt))
            attempt += 1
    stats.parts_sent = 1
    tracker.part_done(1, size)
    return stats
