"""SQL of the completion schema: named, parameterised, schema-qualified statements."""

from dataclasses import dataclass, fields
from datetime import datetime
from uuid import UUID

import asyncpg

from intake_contracts.errors import ErrorCode, TransientError


@dataclass(frozen=True)
class Asset:
    asset_id: UUID
    upload_session_id: UUID
    tenant_id: str
    brand_id: str
    user_id: str
    title: str
    file_name: str
    mime_type: str
    size_bytes: int
    bucket: str
    object_key: str
    checksum_sha256: str | None
    created_at: datetime | None  # None until the row is written


_TABLE = "completion.assets"
_COLUMNS = ", ".join(field.name for field in fields(Asset))
_WRITTEN = [field.name for field in fields(Asset) if field.name != "created_at"]

# Serialises completions of one session across workers and replicas until commit.
LOCK_SESSION = "SELECT pg_advisory_xact_lock(hashtext('completion:' || $1))"
BY_SESSION = f"SELECT {_COLUMNS} FROM {_TABLE} WHERE upload_session_id = $1 AND tenant_id = $2"
INSERT = (
    f"INSERT INTO {_TABLE} ({', '.join(_WRITTEN)})"
    f" VALUES ({', '.join(f'${n}' for n in range(1, len(_WRITTEN) + 1))})"
    f" ON CONFLICT (upload_session_id) DO NOTHING RETURNING {_COLUMNS}"
)


def _asset(row: asyncpg.Record | None) -> Asset | None:
    return None if row is None else Asset(**dict(row))


async def lock_session(connection: asyncpg.Connection, session_id: UUID, timeout_s: float) -> None:
    """Wait until no other transaction completes this session; held until this one ends.

    Raises:
        TransientError: another completion held the session longer than `timeout_s`.
    """
    try:
        await connection.execute(LOCK_SESSION, str(session_id), timeout=timeout_s)
    except TimeoutError as error:
        raise TransientError(
            ErrorCode.SERVICE_TIMEOUT, "another completion of this upload is still running"
        ) from error


async def by_session(
    connection: asyncpg.Connection, session_id: UUID, tenant_id: str
) -> Asset | None:
    return _asset(await connection.fetchrow(BY_SESSION, session_id, tenant_id))


async def insert(connection: asyncpg.Connection, asset: Asset) -> Asset | None:
    """The written asset, or None when the session already has one."""
    values = [getattr(asset, name) for name in _WRITTEN]
    return _asset(await connection.fetchrow(INSERT, *values))
