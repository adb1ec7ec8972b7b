"""Presigned PUTs over the standard library (storage.py) against a real local HTTP server
standing in for S3: the exact bytes of a range, headers, keep-alive, and how each failure is
told apart (retry, re-sign, give up)."""

import http.server
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from intake_client.api import IntakeApi
from intake_client.manager import UploadManager, proxy_configured
from intake_client.retry import RetryableStatusError, StorageUnreachableError, is_retryable
from intake_client.storage import SLICE, Pace, Storage
from intake_client.transfer import StorageRefusedError, UrlRejectedError, put_range
from tests.support.ports import free_port

MiB = 1024 * 1024


class FakeS3(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    statuses: list[int] = []  # answered first, in order; then 200
    puts: list[dict[str, Any]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FakeS3.puts.append({
            "path": self.path, "body": body, "headers": dict(self.headers),
            "connection": id(self.connection),
        })  # fmt: skip
        status = FakeS3.statuses.pop(0) if FakeS3.statuses else 200
        answer = b"" if status == 200 else b"<Error>no</Error>"
        self.send_response(status)
        self.send_header("ETag", f'"etag-{len(FakeS3.puts)}"')
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def s3() -> Iterator[str]:
    FakeS3.statuses, FakeS3.puts = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), FakeS3)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def data(tmp_path: Path) -> bytes:
    content = random.Random(3).randbytes(3 * MiB + 123)
    (tmp_path / "data.bin").write_bytes(content)
    return content


def test_the_range_is_sent_exactly_with_the_signed_headers_and_progress_adds_up(
    s3: str, data: bytes, tmp_path: Path
) -> None:
    counts: list[int] = []
    storage = Storage(timeout_s=5)
    answer = storage.put(
        f"{s3}/bucket/key?partNumber=2&X-Amz-Signature=abc", tmp_path / "data.bin",
        MiB + 5, 2 * MiB, headers={"Content-Type": "video/mp4"}, on_sent=counts.append,
    )  # fmt: skip
    storage.close()

    [put] = FakeS3.puts
    assert answer.status == 200
    assert answer.etag == '"etag-1"'
    assert put["path"] == "/bucket/key?partNumber=2&X-Amz-Signature=abc"
    assert put["body"] == data[MiB + 5 : 3 * MiB + 5]
    assert put["headers"]["Content-Type"] == "video/mp4"
    assert "Transfer-Encoding" not in put["headers"]  # S3 refuses a chunked part
    assert counts == [SLICE, SLICE]


def test_parts_in_a_row_share_one_kept_alive_connection(
    s3: str, data: bytes, tmp_path: Path
) -> None:
    storage = Storage(timeout_s=5)
    for offset in (0, MiB, 2 * MiB):
        storage.put(f"{s3}/b/k", tmp_path / "data.bin", offset, MiB)
    storage.close()

    assert [put["body"] for put in FakeS3.puts] == [data[:MiB], data[MiB : 2 * MiB],
                                                      data[2 * MiB : 3 * MiB]]  # fmt: skip
    assert len({put["connection"] for put in FakeS3.puts}) == 1


def test_a_file_shorter_than_its_part_is_a_plain_os_error_no_retry_can_fix(
    s3: str, data: bytes, tmp_path: Path
) -> None:
    with pytest.raises(OSError, match="early") as raised:
        Storage(timeout_s=5).put(f"{s3}/b/k", tmp_path / "data.bin", 3 * MiB, MiB)
    assert not isinstance(raised.value, StorageUnreachableError)
    assert not is_retryable(raised.value)


def test_an_unreachable_storage_is_an_error_a_retry_may_fix(data: bytes, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/b/k"  # nothing listens there
    with pytest.raises(StorageUnreachableError) as raised:
        Storage(timeout_s=5).put(url, tmp_path / "data.bin", 0, MiB)
    assert is_retryable(raised.value)


@pytest.mark.parametrize(
    ("status", "error"),
    [(403, UrlRejectedError), (503, RetryableStatusError), (400, StorageRefusedError)],
)
async def test_each_refusal_is_told_apart_as_with_the_httpx_client(
    s3: str, data: bytes, tmp_path: Path, status: int, error: type[Exception]
) -> None:
    FakeS3.statuses = [status]
    storage = Storage(timeout_s=5)
    with pytest.raises(error):
        await put_range(storage, f"{s3}/b/k", tmp_path / "data.bin", 0, MiB)
    # The connection stays usable: the next PUT succeeds on it.
    assert await put_range(storage, f"{s3}/b/k", tmp_path / "data.bin", 0, MiB) == '"etag-2"'
    storage.close()


async def test_progress_reaches_the_caller_on_the_event_loop_before_the_etag(
    s3: str, data: bytes, tmp_path: Path
) -> None:
    loop_thread, seen = threading.get_ident(), []

    def on_sent(count: int) -> None:
        seen.append((count, threading.get_ident()))

    storage = Storage(timeout_s=5)
    etag = await put_range(
        storage, f"{s3}/b/k", tmp_path / "data.bin", 0, 3 * MiB + 123, on_sent=on_sent
    )
    storage.close()

    assert etag == '"etag-1"'
    assert sum(count for count, _ in seen) == 3 * MiB + 123
    assert {thread for _, thread in seen} == {loop_thread}


def test_a_pace_spaces_reservations_by_their_size_over_the_rate() -> None:
    now = [100.0]
    pace = Pace(bytes_per_s=1000.0, clock=lambda: now[0])
    assert pace.reserve(500) == 0.0  # the budget is now 0.5 s ahead
    assert pace.reserve(500) == pytest.approx(0.5)
    now[0] += 0.25
    assert pace.reserve(10) == pytest.approx(0.75)
    now[0] += 10  # idle time is not saved up for a burst later
    assert pace.reserve(10) == 0.0
    assert pace.reserve(10) == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("environ", "proxied"),
    [
        ({}, False),
        ({"PATH": "/bin", "NO_PROXY": "localhost"}, False),
        ({"HTTPS_PROXY": "http://proxy:3128"}, True),
        ({"http_proxy": "http://proxy:3128"}, True),
        ({"ALL_PROXY": "socks5://proxy"}, True),
        ({"HTTPS_PROXY": ""}, False),
    ],
)
def test_a_proxy_in_the_environment_is_noticed(environ: dict[str, str], proxied: bool) -> None:
    assert proxy_configured(environ) is proxied


async def test_behind_a_proxy_the_parts_go_through_httpx_which_honours_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = IntakeApi("http://127.0.0.1:1", "token")
    for name in (
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    async with UploadManager(api) as plain:
        assert isinstance(plain._http, Storage)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    async with UploadManager(api) as proxied:
        assert isinstance(proxied._http, httpx.AsyncClient)
    assert proxied._http.is_closed
