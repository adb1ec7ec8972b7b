"""Composition root of the initiation service: nothing happens at import time."""

import contextlib
from collections.abc import AsyncIterator

from intake_contracts import topics
from intake_initiation import repo
from intake_initiation.handlers import build_dispatcher
from intake_initiation.retention import InitiationRetention
from intake_initiation.service import InitiationService
from intake_initiation.settings import SCHEMA, SERVICE, InitiationSettings
from intake_initiation.storage import S3SessionStorage
from intake_runtime.bootstrap import health_server, kafka_broker, package_dir, readiness
from intake_runtime.lifecycle import run_service, serving
from intake_runtime.postgres.lifecycle import migrated_pool, running_relay
from intake_runtime.postgres.outbox import Outbox
from intake_runtime.storage.s3 import open_object_store


@contextlib.asynccontextmanager
async def running(settings: InitiationSettings) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        pool = await stack.enter_async_context(
            migrated_pool(settings, SCHEMA, package_dir(__file__, "migrations"))
        )
        store = await stack.enter_async_context(open_object_store(settings))
        broker = await stack.enter_async_context(kafka_broker(settings, SERVICE))
        service = InitiationService(
            settings, S3SessionStorage(store, settings.resume_parts_cache_s)
        )
        quota = repo.Quota(settings.tenant_max_open_sessions, settings.tenant_max_open_bytes)
        dispatcher = build_dispatcher(
            service, repo.transactions(pool, Outbox(SCHEMA), quota), InitiationRetention(pool)
        )
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
        await stack.enter_async_context(health_server(settings, readiness(broker, database=pool)))
        yield


def main() -> None:
    run_service(SERVICE, InitiationSettings, serving(running))
