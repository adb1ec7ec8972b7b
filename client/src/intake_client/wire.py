"""The gateway's HTTP exchange, standard library only: how a call is sent (keep-alive
connections of http.client, blocking; `off_loop` runs it on a thread of its own so an event
loop never blocks) and how an answer becomes JSON or an IntakeApiError.

The gateway's calls are small JSON exchanges; httpx serves the bytes to S3 (transfer.py). Not
importing httpx, httpcore and anyio for them, nor asyncio before the first one, keeps the
`intake` command's first request within its start-up budget (docs/benchmarks.md).
"""

import contextlib
import http.client
import json
import select
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

from intake_client.errors import GatewayUnreachableError, IntakeApiError

T = TypeVar("T")


class Wire:
    """Sends JSON requests to one base URL over a small pool of keep-alive connections."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(base_url.rstrip("/"))
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._prefix = parts.path
        self._headers = {"Content-Type": "application/json", **headers}
        self._timeout = timeout_s
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        # Set once a request has been written out: work that may wait (loading the transfer
        # machinery) starts then, while the gateway answers (cli.py).
        self.sent = threading.Event()

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The answer's JSON, or IntakeApiError (the gateway refused) or
        GatewayUnreachableError (no answer: connection refused, broken or timed out).

        Blocks; safe from several threads at once (each exchange has a connection to itself).
        """
        payload = None if body is None else json.dumps(body).encode()
        sent = {**self._headers, **(headers or {})}
        status, reason, data = self._exchange(method, self._prefix + path, payload, sent)
        return answer_json(status, reason, data)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _exchange(
        self, method: str, target: str, payload: bytes | None, headers: dict[str, str]
    ) -> tuple[int, str, bytes]:
        connection = self._connection()
        try:
            connection.request(method, target, body=payload, headers=headers)
            self.sent.set()
            answer = connection.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise GatewayUnreachableError(f"{method} {target}: {error!r}", sent=True) from error
        if answer.will_close:
            connection.close()
        else:
            with self._lock:
                self._idle.append(connection)
        return answer.status, answer.reason, data

    def _connection(self) -> http.client.HTTPConnection:
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if still_open(connection):
                    return connection
                connection.close()
        connection = self._new_connection()
        try:
            connection.connect()
        except OSError as error:
            connection.close()
            raise GatewayUnreachableError(str(error), sent=False) from error
        return connection

    def _new_connection(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)


def still_open(connection: http.client.HTTPConnection) -> bool:
    """An idle connection the server has not closed: a readable idle socket means EOF (the
    server's keep-alive timeout ran out) or junk, and a request sent on it would be lost."""
    if connection.sock is None:
        return False
    readable, _, _ = select.select([connection.sock], [], [], 0)
    return not readable


async def off_loop(work: Callable[[], T]) -> T:
    """`work` on a daemon thread of its own: unlike the loop's default executor, a call stuck
    in a dead connection never holds up the process's exit (e.g. after Ctrl-C)."""
    # Imported here: the blocking calls of this module run before asyncio is loaded (cli.py).
    import asyncio  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if done.cancelled():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = work(), None
        except BaseException as failure:  # handed to the awaiting task, never lost
            result, error = None, failure
        # A closed loop (RuntimeError) means nobody waits for this answer any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, daemon=True).start()
    return await done


def answer_json(status: int, reason: str, data: bytes) -> dict[str, Any]:
    if 200 <= status < 300:
        answer: dict[str, Any] = json.loads(data) if data else {}
        return answer
    raise problem_error(status, reason, data)


def problem_error(status: int, reason: str, data: bytes) -> IntakeApiError:
    """An RFC 9457 problem as IntakeApiError; any other refusal as code `http_error`."""
    try:
        body = json.loads(data)
    except ValueError:
        body = None
    if isinstance(body, dict) and "code" in body:
        return IntakeApiError(
            str(body["code"]), int(body.get("status", status)), str(body.get("detail", ""))
        )
    text = data[:200].decode(errors="replace")
    return IntakeApiError("http_error", status, text or reason)
