"""Pool and outbox relay as context managers for a composition root."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from faststream.kafka import KafkaBroker

from intake_runtime.postgres.migrations import migrate
from intake_runtime.postgres.outbox import OutboxRelay
from intake_runtime.postgres.pool import create_pool
from intake_runtime.settings import PostgresSettings


@contextlib.asynccontextmanager
async def migrated_pool(
    settings: PostgresSettings, schema: str, migrations: Path
) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings)
    try:
        await migrate(pool, schema, migrations)
        yield pool
    finally:
        await pool.close()


async def migrate_only(settings: PostgresSettings, schema: str, migrations: Path) -> list[str]:
    """Apply the migrations of `schema` and close again: a deployment's migration job."""
    pool = await create_pool(settings)
    try:
        return await migrate(pool, schema, migrations)
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def running_relay(
    pool: asyncpg.Pool, broker: KafkaBroker, schema: str
) -> AsyncIterator[OutboxRelay]:
    relay = OutboxRelay(pool, broker, schema)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()
