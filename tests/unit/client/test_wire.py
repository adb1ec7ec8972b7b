"""The gateway's HTTP exchange over the standard library, against a real local HTTP server:
blocking, and the same calls awaited from async code."""

import asyncio
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from intake_client.api import Call, IntakeApi, surely_not_processed
from intake_client.errors import GatewayUnreachableError, IntakeApiError
from intake_client.retry import RetryPolicy, is_retryable
from intake_client.wire import Wire
from tests.support.ports import free_port


class Gateway(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real gateway
    answers: list[tuple[int, str, bytes, bool]] = []  # status, content type, body, close after
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Gateway.seen.append({
            "path": self.path,
            "body": json.loads(self.rfile.read(length)),
            "authorization": self.headers["Authorization"],
        })  # fmt: skip
        status, kind, body, close = Gateway.answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if close:
            # Closed without saying so, as a server whose keep-alive timeout ran out does.
            self.close_connection = True

    def log_message(self, *_: Any) -> None:
        pass


class Server(http.server.ThreadingHTTPServer):
    # The current test's server sets this once it has closed a connection; each server keeps
    # its own, so an earlier test's connection closing late cannot set it.
    closed = threading.Event()

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, Gateway)
        self._closed = Server.closed = threading.Event()

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self._closed.set()


@pytest.fixture
def gateway() -> Iterator[str]:
    Gateway.answers, Gateway.seen = [], []
    server = Server(("127.0.0.1", free_port()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prefix"
    server.shutdown()
    server.server_close()


def wire(url: str) -> Wire:
    return Wire(url, {"Authorization": "Bearer t"}, timeout_s=5)


def test_a_json_answer_is_returned_and_the_request_carries_body_and_headers(
    gateway: str,
) -> None:
    Gateway.answers.append((200, "application/json", b'{"ok": true}', False))
    assert wire(gateway).request("POST", "/initiate", {"a": 1}) == {"ok": True}
    assert Gateway.seen == [
        {"path": "/prefix/initiate", "body": {"a": 1}, "authorization": "Bearer t"}
    ]


def test_a_problem_becomes_an_api_error_with_its_code(gateway: str) -> None:
    problem = {"code": "file_too_large", "status": 413, "detail": "too big"}
    Gateway.answers.append((413, "application/problem+json", json.dumps(problem).encode(), False))
    with pytest.raises(IntakeApiError) as raised:
        wire(gateway).request("POST", "/initiate", {})
    assert (raised.value.code, raised.value.status, raised.value.detail) == (
        "file_too_large",
        413,
        "too big",
    )
    assert not is_retryable(raised.value)


def test_an_answer_that_is_no_problem_becomes_http_error(gateway: str) -> None:
    Gateway.answers.append((502, "text/plain", b"bad gateway", False))
    with pytest.raises(IntakeApiError) as raised:
        wire(gateway).request("POST", "/x", {})
    assert (raised.value.code, raised.value.status) == ("http_error", 502)
    assert is_retryable(raised.value)


def test_a_connection_the_server_closed_is_not_reused(gateway: str) -> None:
    Gateway.answers += [
        (200, "application/json", b"{}", True),
        (200, "application/json", b"{}", False),
    ]
    client = wire(gateway)
    client.request("POST", "/one", {})
    assert Server.closed.wait(5)
    assert client.request("POST", "/two", {}) == {}
    assert [seen["path"] for seen in Gateway.seen] == ["/prefix/one", "/prefix/two"]


def test_a_refused_connection_surely_sent_nothing_and_may_be_retried() -> None:
    with pytest.raises(GatewayUnreachableError) as raised:
        wire(f"http://127.0.0.1:{free_port()}").request("POST", "/initiate-batch", {})
    assert raised.value.sent is False
    assert surely_not_processed(raised.value)
    assert is_retryable(raised.value)


def test_a_call_made_blocking_and_the_same_call_awaited_send_the_same_request(
    gateway: str,
) -> None:
    session = {"upload_session_id": "s-1", "status": "PENDING", "upload_type": "direct",
               "file_name": "a.bin", "file_size": 1}  # fmt: skip
    Gateway.answers += [(200, "application/json", json.dumps(session).encode(), False)] * 2
    api = IntakeApi(gateway, "t")
    blocking = api.initiate("a.bin", 1, "application/octet-stream", "b").now()
    awaited = asyncio.run(_awaited(api.initiate("a.bin", 1, "application/octet-stream", "b")))
    assert blocking == awaited
    assert blocking.upload_session_id == "s-1"
    assert [seen["path"] for seen in Gateway.seen] == ["/prefix/app/uploads/initiate"] * 2
    assert Gateway.seen[0]["body"] == Gateway.seen[1]["body"]


async def _awaited(call: Call[Any]) -> Any:
    return await call


def test_a_blocking_call_retries_what_a_retry_can_fix(gateway: str) -> None:
    Gateway.answers += [
        (503, "application/problem+json", b'{"code": "service_unavailable", "status": 503}', False),
        (200, "application/json", b'{"parts": []}', False),
    ]
    api = IntakeApi(gateway, "t", retry=RetryPolicy(base_s=0.0))
    assert api.sign_parts("s-1", [1]).now() == []
    assert len(Gateway.seen) == 2


def test_an_awaited_call_that_is_cancelled_starts_no_further_try() -> None:
    tries: list[int] = []

    def refused() -> None:
        tries.append(1)
        raise GatewayUnreachableError("refused", sent=False)

    async def cancel_while_waiting() -> None:
        # The first try fails at once, then the policy waits a minute before the second.
        task = asyncio.ensure_future(Call(refused, RetryPolicy(base_s=60.0, cap_s=60.0)))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_while_waiting())
    assert tries == [1]
