"""Presigned PUTs to S3 on the standard library: keep-alive http.client connections, one
request per connection at a time, the file range handed to the kernel (sendfile).

The default way an upload's bytes travel (transfer.put_range). Against httpx's async client it
spares the process about 0.4 s of CPU per 256 MiB (no Python-level copy of each block, no
thread hop per block to read it; docs/decisions/0005), which on a small machine is
CPU the S3 server gets instead, and ~0.1-0.2 s of start-up (httpx, httpcore, anyio and an SSL
context are never loaded for a plain-HTTP S3). Blocking: callers run `put` on a thread.
"""

import http.client
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from intake_client.retry import StorageUnreachableError
from intake_client.wire import still_open

SLICE = 1024 * 1024  # progress (and the rate limit) move in steps of this many bytes


class Pace:
    """A byte budget per second shared by every transfer of a run, from any thread."""

    def __init__(self, bytes_per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate, self._clock = bytes_per_s, clock
        self._next = clock()
        self._lock = threading.Lock()

    def reserve(self, count: int) -> float:
        """Seconds to wait before sending `count` more bytes."""
        with self._lock:
            now = self._clock()
            delay = self._next - now
            self._next = max(now, self._next) + count / self._rate
        return max(0.0, delay)


class Answer:
    __slots__ = ("body", "etag", "status")

    def __init__(self, status: int, etag: str, body: str) -> None:
        self.status, self.etag, self.body = status, etag, body


class Storage:
    """Connections to S3 kept open between parts, keyed by scheme, host and port."""

    def __init__(self, timeout_s: float = 60.0) -> None:
        self._timeout = timeout_s
        self._idle: dict[tuple[str, str, int | None], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def put(
        self,
        url: str,
        path: Path,
        offset: int,
        size: int,
        *,
        headers: dict[str, str] | None = None,
        on_sent: Callable[[int], None] = lambda _: None,
        pace: Pace | None = None,
    ) -> Answer:
        """PUT bytes [offset, offset+size) of `path` to `url` and read the answer.

        Raises:
            StorageUnreachableError: the connection failed; the same request may succeed later.
            OSError: the file could not be read, or ended early (it changed): no retry helps.
        """
        target = urllib.parse.urlsplit(url)
        where = (target.scheme, target.hostname or "", target.port)
        request_target = target.path + (f"?{target.query}" if target.query else "")
        with path.open("rb") as source:
            connection = self._connection(where)
            try:
                connection.putrequest("PUT", request_target, skip_accept_encoding=True)
                # Exactly the signed headers, and the length: S3 refuses a chunked part.
                for name, value in {"Content-Length": str(size), **(headers or {})}.items():
                    connection.putheader(name, value)
                connection.endheaders()
                _send_range(connection, source, path, offset, size, on_sent=on_sent, pace=pace)
                answer = connection.getresponse()
                body = answer.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                if isinstance(error, _FileEndedError):
                    raise
                raise StorageUnreachableError(f"PUT {target.hostname}: {error!r}") from error
        if answer.will_close:
            connection.close()
        else:
            with self._lock:
                self._idle.setdefault(where, []).append(connection)
        etag = answer.getheader("ETag", "") or ""
        return Answer(answer.status, etag, body.decode(errors="replace"))

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _connection(self, where: tuple[str, str, int | None]) -> http.client.HTTPConnection:
        with self._lock:
            pool = self._idle.get(where, [])
            while pool:
                connection = pool.pop()
                if still_open(connection):
                    return connection
                connection.close()
        scheme, host, port = where
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self._timeout)
        return http.client.HTTPConnection(host, port, timeout=self._timeout)


class _FileEndedError(OSError):
    """The file holds fewer bytes than its part: it changed since the upload began."""


def _send_range(
    connection: http.client.HTTPConnection,
    source: BinaryIO,
    path: Path,
    offset: int,
    size: int,
    *,
    on_sent: Callable[[int], None],
    pace: Pace | None,
) -> None:
    if connection.sock is None:
        connection.connect()
    sock = connection.sock
    sent = 0
    while sent < size:
        count = min(SLICE, size - sent)
        if pace is not None:
            time.sleep(pace.reserve(count))
        # The kernel copies file to socket (TLS sockets fall back to reading and sending).
        done = sock.sendfile(source, offset + sent, count)
        if done < count:
            raise _FileEndedError(f"{path} ended {size - sent - done} bytes early: it changed")
        sent += done
        on_sent(done)
