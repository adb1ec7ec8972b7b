"""The asyncpg pool, with JSON codecs so jsonb columns read and write Python values."""

import asyncio
import json
import logging

import asyncpg

from intake_runtime.settings import PostgresSettings

log = logging.getLogger(__name__)


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _no_reset(connection: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (unlock all, CLOSE ALL, UNLISTEN *, RESET ALL):
    a round trip on every release that this code never needs. No query here changes session
    settings (only SET LOCAL) or opens cursors; the two session-level advisory locks
    (migrations, cleanup jobs) are unlocked in a `finally`; the one LISTEN is on the outbox
    relay's own connection, held until it stops. asyncpg still rolls back a transaction left
    open and drops the listener callbacks before the pool hands the connection on."""


async def create_pool(settings: PostgresSettings, deadline_s: float = 60.0) -> asyncpg.Pool:
    """Connect, waiting for the server up to a deadline so a service can start beside it."""
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + deadline_s
    while True:
        try:
            return await asyncpg.create_pool(
                settings.database_url,
                min_size=settings.db_pool_min,
                max_size=settings.db_pool_max,
                command_timeout=settings.db_command_timeout_s,
                init=_init_connection,
                reset=_no_reset,
            )
        except (OSError, asyncpg.PostgresError) as error:
            if loop.time() > stop_at:
                raise RuntimeError(f"Postgres unreachable: {error}") from error
            log.info("waiting for Postgres", extra={"error": str(error)})
            await asyncio.sleep(0.5)
