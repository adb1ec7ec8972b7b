"""Numbered SQL migrations per schema, applied at start-up under an advisory lock, recorded."""

import logging
import re
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

RUNTIME_MIGRATIONS = Path(__file__).parent / "sql"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def migration_files(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.glob("*.sql") if _NAME.match(p.name))
    numbers = [p.name[:4] for p in files]
    if len(numbers) != len(set(numbers)):
        raise ValueError(f"two migrations share a number in {directory}")
    return files


def checked_schema(schema: str) -> str:
    """Schema names are spliced into SQL as identifiers, so only plain names pass."""
    if not _IDENTIFIER.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


async def migrate(pool: asyncpg.Pool, schema: str, service_migrations: Path) -> list[str]:
    """Apply the runtime's (inbox, outbox) then the service's migrations; returns those applied.

    A second run, or a replica starting at the same time, applies nothing: the advisory lock
    serialises them and the record table says what is done.
    """
    schema = checked_schema(schema)
    plan = [("runtime", p) for p in migration_files(RUNTIME_MIGRATIONS)]
    plan += [("service", p) for p in migration_files(service_migrations)]
    applied: list[str] = []
    async with pool.acquire() as connection:
        await connection.execute("SELECT pg_advisory_lock(hashtext($1))", f"migrate:{schema}")
        try:
            await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            await connection.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                row["version"]
                for row in await connection.fetch(f"SELECT version FROM {schema}.schema_migrations")
            }
            for origin, path in plan:
                version = f"{origin}:{path.stem}"
                if version in done:
                    continue
                async with connection.transaction():
                    await connection.execute(f"SET LOCAL search_path TO {schema}")
                    await connection.execute(path.read_text())
                    await connection.execute(
                        f"INSERT INTO {schema}.schema_migrations (version) VALUES ($1)", version
                    )
                applied.append(version)
                log.info("migration applied", extra={"schema": schema, "version": version})
        finally:
            await connection.execute("SELECT pg_advisory_unlock(hashtext($1))", f"migrate:{schema}")
    return applied
