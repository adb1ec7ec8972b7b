"""Running a service process: settings, logs and tracing set up once, then until a signal."""

import asyncio
import signal
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import uvloop

from intake_runtime.logs import configure_logging
from intake_runtime.messaging import names
from intake_runtime.settings import ServiceSettings, load_settings
from intake_runtime.telemetry import configure_tracing, shutdown_tracing

S = TypeVar("S", bound=ServiceSettings)


async def wait_for_shutdown() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def serving(
    running: Callable[[S], AbstractAsyncContextManager[object]],
) -> Callable[[S], Coroutine[Any, Any, None]]:
    """A service's `serve`: its running context, held until SIGTERM or SIGINT."""

    async def serve(settings: S) -> None:
        async with running(settings):
            await wait_for_shutdown()

    return serve


def prepared_process(service: str, settings_class: type[S]) -> S:
    """Settings, logs and Kafka names, once per process, before any client is made: what a
    service and a one-off command of it (`intake-cleanup run JOB`) both need."""
    settings = load_settings(settings_class, service)
    names.use_namespace(settings.namespace)
    configure_logging(service, settings.log_level)
    return settings


def run_service(
    service: str, settings_class: type[S], serve: Callable[[S], Coroutine[Any, Any, None]]
) -> None:
    """The body of every service's `main()`."""
    settings = prepared_process(service, settings_class)
    tracing = configure_tracing(service)
    try:
        # uvloop: the same asyncio API with its socket and timer work in C; every service's
        # time goes to small Kafka and Postgres round trips, where that is what costs.
        uvloop.run(serve(settings))
    finally:
        shutdown_tracing(tracing)
