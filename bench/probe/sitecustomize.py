"""Timestamps of one request's steps inside a service, for bench/part_url_timeline.py.

Loaded at interpreter start-up (this folder is put on the services' PYTHONPATH by the
benchmark) and active only when INTAKE_PROBE_DIR is set: it wraps a few functions of the
gateway, the dispatcher and aiokafka and appends `step monotonic_ns` lines to a file per
process. CLOCK_MONOTONIC is one clock for every process of the machine, so the lines of the
gateway, initiation and the load generator can be put on one time line. Benchmark only: nothing
here is imported by the product.
"""

import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_DIR = os.environ.get("INTAKE_PROBE_DIR")


def _writer(path: str) -> Callable[..., None]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def mark(step: str, at_ns: int | None = None) -> None:
        os.write(fd, f"{step} {at_ns or time.monotonic_ns()}\n".encode())

    return mark


def _around(owner: Any, name: str, mark: Callable[..., None], step: str) -> None:
    """`step.start` before and `step.end` after an async method or function."""
    original = getattr(owner, name)

    @functools.wraps(original)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        mark(f"{step}.start")
        try:
            return await original(*args, **kwargs)
        finally:
            mark(f"{step}.end")

    setattr(owner, name, wrapped)


def _fetches(mark: Callable[..., None]) -> None:
    """A fetch response that brought records: the consumer's wake-up (parsed, before the
    application's getone sees it)."""
    from aiokafka.consumer.fetcher import Fetcher

    original = Fetcher._proc_fetch_request  # noqa: SLF001

    async def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        sent = time.monotonic_ns()
        has_data = await original(self, *args, **kwargs)
        if has_data:
            mark("fetch.sent", sent)
            mark("fetch.data")
        return has_data

    Fetcher._proc_fetch_request = wrapped  # type: ignore[method-assign]  # noqa: SLF001


def _produce(mark: Callable[..., None]) -> None:
    """The produce request on the wire: from the sender taking the batch (after linger) to the
    broker's acknowledgement (acks=all)."""
    from aiokafka.producer.sender import SendProduceReqHandler

    _around(SendProduceReqHandler, "do", mark, "produce.wire")


def _asgi(mark: Callable[..., None]) -> None:
    from litestar import Litestar

    original = Litestar.__call__

    async def wrapped(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await original(self, scope, receive, send)
            return
        mark("http.in")

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                mark("http.response")
            await send(message)

        await original(self, scope, receive, sending)
        mark("http.out")

    Litestar.__call__ = wrapped  # type: ignore[method-assign]


def _gateway(mark: Callable[..., None]) -> None:
    from intake_runtime.messaging import requests

    _around(requests.RequestReplyClient, "request", mark, "gw.request")
    _around(requests.RequestReplyClient, "_publish", mark, "gw.publish")
    original = requests.RequestReplyClient._resolve  # noqa: SLF001

    def resolve(self: Any, headers: Any, value: Any) -> None:
        mark("gw.reply.start")
        original(self, headers, value)
        mark("gw.reply.end")

    requests.RequestReplyClient._resolve = resolve  # type: ignore[method-assign]  # noqa: SLF001
    _asgi(mark)


def _service(mark: Callable[..., None]) -> None:
    from intake_runtime.messaging import commits, dispatch

    _around(dispatch.CommandDispatcher, "dispatch", mark, "svc.dispatch")
    _around(dispatch, "_send_reply", mark, "svc.reply")
    _around(commits.OffsetCommitter, "commit", mark, "svc.commit")


class _Profile:
    """INTAKE_PROBE_PROFILE=1: cProfile of the process on its CPU clock (not wall time, which
    on a shared machine counts preemption), from its first request on, written to a pstats
    file every 100 requests (a service stopped by a signal may never run atexit)."""

    def __init__(self, path: Path) -> None:
        import cProfile

        self._path = path
        self._profiler = cProfile.Profile(time.process_time)
        self._requests = 0

    def request(self) -> None:
        if self._requests == 0:
            self._profiler.enable()
        self._requests += 1
        if self._requests % 100 == 0:
            self._profiler.disable()
            self._profiler.dump_stats(self._path)
            self._profiler.enable()


def _install() -> None:
    if not _DIR:
        return
    program = Path(sys.argv[0]).name if sys.argv else "python"
    mark = _writer(str(Path(_DIR) / f"{program}-{os.getpid()}.log"))
    if os.environ.get("INTAKE_PROBE_PROFILE") == "1":
        profile = _Profile(Path(_DIR) / f"{program}-{os.getpid()}.pstats")
        plain = mark

        def mark(step: str, at_ns: int | None = None) -> None:
            if step in {"http.in", "svc.dispatch.start"}:
                profile.request()
            plain(step, at_ns)

    _fetches(mark)
    _produce(mark)
    if program == "intake-gateway":
        _gateway(mark)
    else:
        _service(mark)


_install()
