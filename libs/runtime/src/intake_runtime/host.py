"""The service host: the one start and stop order of every service that consumes commands.

A service's app.py declares what it serves (a `ServiceHost`: its schema and migrations, whether
it needs S3, a reply client and an outbox relay, and `wire`, which builds its use cases on what
the host opened and says which command topics they answer). The host opens, in this order,

    pool (migrated), S3, broker, reply client, wire, subscribe, broker.start,
    commit_handled (run on stop), outbox relay, health endpoint, background tasks

and closes in reverse. The reasons for the order:
- the reply client listens before any command is consumed: a handler may send a request (a
  completion asks initiation) whose reply must find a listener;
- the subscribers are declared before broker.start, which starts their consumers;
- `commit_handled` is unwound before broker.stop: the offsets of every handled command are
  committed while the consumers still exist (else up to one commit interval of commands is
  redelivered);
- the relay starts after broker.start: it publishes through the started broker;
- the health endpoint comes last but for the background tasks: ready only once what it checks
  is up;
- background tasks (a promotion sweep, a job schedule) start once the service serves and stop
  first.
"""

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import asyncpg
from faststream.kafka import KafkaBroker

from intake_runtime.bootstrap import health_server, kafka_broker, readiness, reply_client
from intake_runtime.lifecycle import run_service, serving
from intake_runtime.messaging.dispatch import CommandDispatcher
from intake_runtime.messaging.requests import RequestReplyClient
from intake_runtime.postgres.lifecycle import migrated_pool, running_relay
from intake_runtime.postgres.outbox import OutboxRelay
from intake_runtime.settings import PostgresSettings, S3Settings, ServiceSettings

if TYPE_CHECKING:
    from intake_runtime.storage.s3 import ObjectStore

S = TypeVar("S", bound=ServiceSettings)
T = TypeVar("T")


@dataclass(frozen=True)
class Opened(Generic[S]):
    """What the host opened for a service, handed to its `wire`."""

    settings: S
    pool: asyncpg.Pool
    broker: KafkaBroker
    store_or_none: "ObjectStore | None"
    replies_or_none: RequestReplyClient | None

    @property
    def store(self) -> "ObjectStore":
        """Raises:
        RuntimeError: the service did not declare `store=True`.
        """
        if self.store_or_none is None:
            raise RuntimeError("the service did not ask the host for S3 (store=True)")
        return self.store_or_none

    @property
    def replies(self) -> RequestReplyClient:
        """Raises:
        RuntimeError: the service did not declare `replies=True`.
        """
        if self.replies_or_none is None:
            raise RuntimeError("the service did not ask the host for a reply client")
        return self.replies_or_none


@dataclass(frozen=True)
class Commands:
    """A dispatcher and the command topics it answers, consumed in `group_id`."""

    dispatcher: CommandDispatcher[Any]
    topics: Sequence[str]
    group_id: str
    workers: int


@dataclass(frozen=True)
class Served(Generic[T]):
    """What a service serves: its use cases (`service`, for a caller of `running`), its
    commands, any other subscribers (event consumers), and background tasks."""

    service: T
    commands: Commands
    subscribers: Sequence[Callable[[KafkaBroker], None]] = ()
    background: Sequence[Callable[[], AbstractAsyncContextManager[object]]] = ()


@dataclass(frozen=True)
class Running(Generic[T]):
    served: Served[T]
    relay: OutboxRelay | None


@dataclass(frozen=True)
class ServiceHost(Generic[S, T]):
    """A service as its app.py declares it; `running` and `main` start it in the one order."""

    service: str
    schema: str
    migrations: Path
    wire: Callable[[Opened[S]], Served[T]]
    store: bool = False
    replies: bool = False
    relay: bool = True

    @contextlib.asynccontextmanager
    async def running(self, settings: S, *, serve: bool = True) -> AsyncIterator[Running[T]]:
        """The service up; without `serve` (a one-off command line, a test) it consumes
        nothing and has no health endpoint or background tasks, but its broker and relay run."""
        async with contextlib.AsyncExitStack() as stack:
            pool = await stack.enter_async_context(
                migrated_pool(_postgres(settings), self.schema, self.migrations)
            )
            store = await stack.enter_async_context(_store(settings)) if self.store else None
            broker = await stack.enter_async_context(kafka_broker(settings, self.service))
            # Listening for replies before any command is consumed: no reply can be missed.
            replies = (
                await stack.enter_async_context(reply_client(settings, broker, self.service))
                if self.replies
                else None
            )
            served = self.wire(Opened(settings, pool, broker, store, replies))
            if serve:
                _subscribe(served, broker, settings)
            await broker.start()
            # Unwound before broker.stop: the offsets of handled commands are committed while
            # the consumers still exist.
            stack.push_async_callback(served.commands.dispatcher.commit_handled)
            # After start: the relay publishes through the started broker.
            relay = (
                await stack.enter_async_context(running_relay(pool, broker, self.schema))
                if self.relay
                else None
            )
            if serve:
                ready = readiness(broker, database=pool, replies=replies)
                await stack.enter_async_context(health_server(settings, ready))
                for task in served.background:
                    await stack.enter_async_context(task())
            yield Running(served, relay)

    def main(self, settings_class: type[S]) -> None:
        """The body of the service's `main()`: settings from the environment, served until
        SIGTERM or SIGINT."""
        run_service(self.service, settings_class, serving(self.running))


def _subscribe(served: Served[Any], broker: KafkaBroker, settings: ServiceSettings) -> None:
    commands = served.commands
    commands.dispatcher.subscribe(
        broker, commands.topics, commands.group_id, commands.workers, settings
    )
    for subscribe in served.subscribers:
        subscribe(broker)


def _postgres(settings: object) -> PostgresSettings:
    """Raises:
    TypeError: the service's settings have no database settings.
    """
    if not isinstance(settings, PostgresSettings):
        raise TypeError(f"{type(settings).__name__} has no database settings")
    return settings


def _store(settings: object) -> AbstractAsyncContextManager["ObjectStore"]:
    # Imported here: a service without the runtime's s3 extra (audit) never needs it.
    from intake_runtime.storage.s3 import open_object_store  # noqa: PLC0415

    if not isinstance(settings, S3Settings):
        raise TypeError(f"{type(settings).__name__} has no S3 settings")
    return open_object_store(settings)
