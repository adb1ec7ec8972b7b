"""Composition root of the completion service: nothing happens at import time."""

import contextlib
from collections.abc import AsyncIterator

from intake_completion.handlers import build_dispatcher
from intake_completion.peers import Peers
from intake_completion.promotion import Promoter, sweeping
from intake_completion.repo import PostgresSagaDatabase
from intake_completion.retention import CompletionRetention
from intake_completion.service import CompletionService
from intake_completion.settings import SCHEMA, SERVICE, CompletionSettings
from intake_completion.storage import CopyPlan, S3CompletionStorage
from intake_contracts import topics
from intake_runtime.bootstrap import (
    health_server,
    kafka_broker,
    package_dir,
    readiness,
    reply_client,
)
from intake_runtime.lifecycle import run_service, serving
from intake_runtime.postgres.lifecycle import migrated_pool, running_relay
from intake_runtime.postgres.outbox import Outbox
from intake_runtime.storage.s3 import open_object_store


@contextlib.asynccontextmanager
async def running(settings: CompletionSettings) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        pool = await stack.enter_async_context(
            migrated_pool(settings, SCHEMA, package_dir(__file__, "migrations"))
        )
        store = await stack.enter_async_context(open_object_store(settings))
        broker = await stack.enter_async_context(kafka_broker(settings, SERVICE))
        # Listening for replies before any command is consumed: no reply can be missed.
        replies = await stack.enter_async_context(reply_client(settings, broker, SERVICE))
        storage = S3CompletionStorage(
            store,
            CopyPlan(
                settings.multipart_copy_threshold,
                settings.copy_part_size,
                settings.copy_concurrency,
                settings.promotion_if_none_match,
            ),
        )
        database = PostgresSagaDatabase(pool, Outbox(SCHEMA))
        promoter = await stack.enter_async_context(sweeping(Promoter(settings, database, storage)))
        service = CompletionService(settings, database, storage, Peers(replies), promoter)
        dispatcher = build_dispatcher(service, CompletionRetention(pool))
        dispatcher.subscribe(
            broker,
            topics.COMMAND_TOPICS[SERVICE],
            topics.CONSUMER_GROUPS[SERVICE],
            settings.command_workers,
            settings,
        )
        await broker.start()
        stack.push_async_callback(dispatcher.commit_handled)  # unwound before broker.stop
        await stack.enter_async_context(running_relay(pool, broker, SCHEMA))
        await stack.enter_async_context(
            health_server(settings, readiness(broker, database=pool, replies=replies))
        )
        yield


def main() -> None:
    run_service(SERVICE, CompletionSettings, serving(running))
