"""Composition root of the audit service: nothing happens at import time."""

import contextlib
from collections.abc import AsyncIterator

from intake_audit.handlers import build_dispatcher, subscribe_events
from intake_audit.repo import PostgresEventLog
from intake_audit.service import AuditService
from intake_audit.settings import SCHEMA, SERVICE, AuditSettings
from intake_contracts import topics
from intake_runtime.bootstrap import health_server, kafka_broker, package_dir, readiness
from intake_runtime.lifecycle import run_service, serving
from intake_runtime.postgres.lifecycle import migrated_pool


@contextlib.asynccontextmanager
async def running(settings: AuditSettings) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        pool = await stack.enter_async_context(
            migrated_pool(settings, SCHEMA, package_dir(__file__, "migrations"))
        )
        broker = await stack.enter_async_context(kafka_broker(settings, SERVICE))
        service = AuditService(PostgresEventLog(pool))
        group_id = topics.CONSUMER_GROUPS[SERVICE]
        subscribe_events(broker, service, group_id, settings)
        # Queries get their own group: a rebalance of one consumer never pauses the other.
        dispatcher = build_dispatcher(service)
        dispatcher.subscribe(
            broker,
            topics.COMMAND_TOPICS[SERVICE],
            f"{group_id}-queries",
            settings.query_workers,
            settings,
        )
        await broker.start()
        stack.push_async_callback(dispatcher.commit_handled)  # unwound before broker.stop
        await stack.enter_async_context(health_server(settings, readiness(broker, database=pool)))
        yield


def main() -> None:
    run_service(SERVICE, AuditSettings, serving(running))
