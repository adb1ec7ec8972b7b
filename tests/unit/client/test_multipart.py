"""MultipartSender against an in-memory fake S3: retries, re-signing, batch limits, bytes."""

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from intake_client.errors import TransferError
from intake_client.models import PartUrl
from intake_client.multipart import MultipartSender, Transfer
from intake_client.plan import plan_parts
from intake_client.progress import FileProgress, FileTracker
from intake_client.retry import RetryPolicy


class FakeS3:
    """Stores part bodies by URL path; a scripted list of statuses answers first."""

    def __init__(self, statuses: list[int] | None = None, reject: str | None = None) -> None:
        self.bodies: dict[int, bytes] = {}
        self.urls: list[str] = []
        self._statuses = statuses or []
        self._reject = reject  # URLs containing this are refused with 403, like a bad signature

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.urls.append(str(request.url))
        if self._reject and self._reject in str(request.url):
            return httpx.Response(403, text="SignatureDoesNotMatch")
        if self._statuses:
            return httpx.Response(self._statuses.pop(0), text="SlowDown")
        number = int(request.url.params["partNumber"])
        assert int(request.headers["Content-Length"]) == len(body)
        self.bodies[number] = body
        return httpx.Response(200, headers={"ETag": f'"etag-{number}"'})


class Signer:
    def __init__(self, *, stale_first: bool = False) -> None:
        self.calls: list[list[int]] = []
        self.checksums: list[list[str] | None] = []
        self._stale_first = stale_first

    async def __call__(
        self, session_id: str, numbers: list[int], checksums: list[str] | None = None
    ) -> list[PartUrl]:
        self.calls.append(numbers)
        self.checksums.append(checksums)
        generation = len(self.calls)
        ttl = timedelta(minutes=-1 if self._stale_first and generation == 1 else 15)
        return [
            PartUrl(n, f"http://s3/{session_id}?partNumber={n}&gen={generation}",
                    datetime.now(UTC) + ttl)
            for n in numbers
        ]  # fmt: skip


def a_file(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(random.Random(7).randbytes(size))
    return path


async def send(
    path: Path, s3: FakeS3, signer: Signer, chunk: int, parallel: int = 3,
    signed: list[PartUrl] | None = None,
) -> tuple[MultipartSender, list[FileProgress]]:  # fmt: skip
    size = path.stat().st_size
    parts = plan_parts(size, chunk, -(-size // chunk))
    events: list[FileProgress] = []
    tracker = FileTracker(path, size, "s-1", on_file=events.append)
    http = httpx.AsyncClient(transport=httpx.MockTransport(s3))
    transfer = Transfer(http, asyncio.Semaphore(parallel), RetryPolicy(attempts=4, base_s=0.0))
    sender = MultipartSender(
        transfer, signer, "s-1", path, tracker=tracker, on_part_done=lambda _n, _e: None,
        signed=signed,
    )  # fmt: skip
    try:
        await sender.send(parts, parallel)
    finally:
        await http.aclose()
    return sender, events


async def test_every_byte_lands_in_its_part(tmp_path: Path) -> None:
    path, s3 = a_file(tmp_path, 10_000), FakeS3()
    sender, _ = await send(path, s3, Signer(), chunk=3000)
    data = path.read_bytes()
    assert b"".join(s3.bodies[n] for n in sorted(s3.bodies)) == data
    assert sender.stats.etags == {n: f'"etag-{n}"' for n in (1, 2, 3, 4)}


async def test_a_5xx_answer_is_retried_and_progress_never_overshoots(tmp_path: Path) -> None:
    path, s3 = a_file(tmp_path, 9000), FakeS3(statuses=[503, 500])
    sender, events = await send(path, s3, Signer(), chunk=3000)
    assert sender.stats.retries == 2
    assert sender.stats.parts_sent == 3
    assert all(e.sent <= e.total for e in events)
    assert events[-1].sent == 9000


async def test_a_rejected_url_resigns_its_whole_batch_once(tmp_path: Path) -> None:
    path, s3, signer = a_file(tmp_path, 9000), FakeS3(reject="gen=1"), Signer()
    sender, _ = await send(path, s3, signer, chunk=3000, parallel=1)
    assert [sorted(c) for c in signer.calls] == [[1, 2, 3], [1, 2, 3]]
    assert sender.stats.resigned == 1
    assert len(s3.bodies) == 3


async def test_a_cached_url_near_expiry_is_signed_again_before_it_is_used(tmp_path: Path) -> None:
    path, s3, signer = a_file(tmp_path, 6000), FakeS3(), Signer(stale_first=True)
    sender, _ = await send(path, s3, signer, chunk=3000, parallel=1)
    # Part 1 takes what the signer just gave (S3 judges; a skewed clock must not loop), but
    # part 2's URL has waited in the cache past its expiry and is replaced before use.
    [part_2_url] = [url for url in s3.urls if "partNumber=2" in url]
    assert "gen=2" in part_2_url
    assert sender.stats.resigned == 1


async def test_a_url_refused_again_and_again_is_a_transfer_error(tmp_path: Path) -> None:
    path, s3 = a_file(tmp_path, 3000), FakeS3(reject="http://s3/")
    with pytest.raises(TransferError, match="part 1"):
        await send(path, s3, Signer(), chunk=3000)


async def test_signing_asks_for_at_most_100_parts_per_call(tmp_path: Path) -> None:
    path, s3, signer = a_file(tmp_path, 250 * 40), FakeS3(), Signer()
    await send(path, s3, signer, chunk=40, parallel=4)
    assert all(len(call) <= 100 for call in signer.calls)
    assert sorted(n for call in signer.calls for n in call) == list(range(1, 251))


def ahead(numbers: range, ttl: timedelta) -> list[PartUrl]:
    expires = datetime.now(UTC) + ttl
    return [PartUrl(n, f"http://s3/s-1?partNumber={n}&gen=ahead", expires) for n in numbers]


async def test_urls_signed_ahead_are_used_without_signing_again(tmp_path: Path) -> None:
    path, s3, signer = a_file(tmp_path, 9000), FakeS3(), Signer()
    sender, _ = await send(
        path, s3, signer, chunk=3000, signed=ahead(range(1, 3), timedelta(minutes=15))
    )
    # Parts 1 and 2 go with the URLs signed ahead; only part 3 needs a signing call.
    assert signer.calls == [[3]]
    assert sorted(url.split("?")[1] for url in s3.urls) == [
        "partNumber=1&gen=ahead", "partNumber=2&gen=ahead", "partNumber=3&gen=1",
    ]  # fmt: skip
    assert sender.stats.resigned == 0
    assert b"".join(s3.bodies[n] for n in sorted(s3.bodies)) == path.read_bytes()


async def test_a_url_signed_ahead_that_went_stale_is_signed_again(tmp_path: Path) -> None:
    path, s3, signer = a_file(tmp_path, 6000), FakeS3(), Signer()
    stale = ahead(range(1, 3), timedelta(seconds=5))  # within the expiry margin
    sender, _ = await send(path, s3, signer, chunk=3000, parallel=1, signed=stale)
    assert "gen=ahead" not in " ".join(s3.urls)
    assert signer.calls == [[1, 2]]  # one call replaces both, before either is used
    assert sender.stats.resigned == 1
    assert len(s3.bodies) == 2
