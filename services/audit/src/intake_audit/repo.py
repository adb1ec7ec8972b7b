"""SQL of the audit schema: named, parameterised, schema-qualified statements."""

from uuid import UUID

import asyncpg

from intake_audit.domain import LoggedEvent

_TABLE = "audit.events"
_COLUMNS = "event_id, type, tenant_id, upload_session_id, occurred_at, payload, topic"

# A redelivered event finds its row already there and changes nothing.
INSERT = (
    f"INSERT INTO {_TABLE} ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
TRAIL = (
    f"SELECT {_COLUMNS} FROM {_TABLE}"
    " WHERE tenant_id = $1 AND upload_session_id = $2 ORDER BY occurred_at, seq"
)


async def append(connection: asyncpg.Connection | asyncpg.Pool, event: LoggedEvent) -> bool:
    """True when the event is new, False when it was logged before."""
    inserted = await connection.fetchval(
        INSERT,
        event.event_id,
        event.type,
        event.tenant_id,
        event.upload_session_id,
        event.occurred_at,
        event.payload,
        event.topic,
    )
    return inserted is not None


async def trail(
    connection: asyncpg.Connection, tenant_id: str, upload_session_id: UUID
) -> list[LoggedEvent]:
    rows = await connection.fetch(TRAIL, tenant_id, upload_session_id)
    return [LoggedEvent(**dict(row)) for row in rows]
