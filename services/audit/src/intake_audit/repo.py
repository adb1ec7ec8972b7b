"""SQL of the audit schema: named, parameterised, schema-qualified statements, and the
Postgres adapter of the EventLog port. The only SQL of the service."""

import json
from uuid import UUID

import asyncpg

from intake_audit.domain import LoggedEvent

_TABLE = "audit.events"
_COLUMNS = "event_id, type, tenant_id, upload_session_id, occurred_at, payload, topic"

# A redelivered event finds its row already there and changes nothing; a batch keeps its
# arrival order in `seq` (WITH ORDINALITY).
APPEND_MANY = (
    f"WITH written AS (INSERT INTO {_TABLE} ({_COLUMNS})"
    " SELECT event_id, type, tenant_id, upload_session_id, occurred_at, payload::jsonb, topic"
    " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[],"
    " $6::text[], $7::text[]) WITH ORDINALITY"
    " AS batch(event_id, type, tenant_id, upload_session_id, occurred_at, payload, topic, n)"
    " ORDER BY n ON CONFLICT (event_id) DO NOTHING RETURNING 1)"
    " SELECT count(*) FROM written"
)
TRAIL = (
    f"SELECT {_COLUMNS} FROM {_TABLE}"
    " WHERE tenant_id = $1 AND upload_session_id = $2 ORDER BY occurred_at, seq"
)


class PostgresEventLog:
    """The EventLog port over the pool: each call is one statement, so one transaction."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def append_many(self, events: list[LoggedEvent]) -> int:
        return await append_many(self._pool, events)

    async def trail(self, tenant_id: str, upload_session_id: UUID) -> list[LoggedEvent]:
        return await trail(self._pool, tenant_id, upload_session_id)


async def append_many(db: asyncpg.Pool | asyncpg.Connection, events: list[LoggedEvent]) -> int:
    """How many of the events were new; those logged before change nothing."""
    if not events:
        return 0
    inserted = await db.fetchval(
        APPEND_MANY,
        [e.event_id for e in events],
        [e.type for e in events],
        [e.tenant_id for e in events],
        [e.upload_session_id for e in events],
        [e.occurred_at for e in events],
        [json.dumps(e.payload) for e in events],
        [e.topic for e in events],
    )
    return int(inserted)


async def trail(
    db: asyncpg.Pool | asyncpg.Connection, tenant_id: str, upload_session_id: UUID
) -> list[LoggedEvent]:
    rows = await db.fetch(TRAIL, tenant_id, upload_session_id)
    return [LoggedEvent(**dict(row)) for row in rows]
