"""SQL of the audit schema: named, parameterised, schema-qualified statements, and the
Postgres adapter of the Events port. The only SQL of the service."""

import json
from uuid import UUID

import asyncpg

from intake_audit.domain import RecordedEvent

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
OF_SESSION = (
    f"SELECT {_COLUMNS} FROM {_TABLE}"
    " WHERE tenant_id = $1 AND upload_session_id = $2 ORDER BY occurred_at, seq"
)


class PostgresEvents:
    """The Events port over the pool: each call is one statement, so one transaction."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def append_many(self, events: list[RecordedEvent]) -> int:
        return await append_many(self._pool, events)

    async def of_session(self, tenant_id: str, upload_session_id: UUID) -> list[RecordedEvent]:
        return await of_session(self._pool, tenant_id, upload_session_id)


async def append_many(db: asyncpg.Pool | asyncpg.Connection, events: list[RecordedEvent]) -> int:
    """How many of the events were new; those recorded before change nothing."""
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


async def of_session(
    db: asyncpg.Pool | asyncpg.Connection, tenant_id: str, upload_session_id: UUID
) -> list[RecordedEvent]:
    rows = await db.fetch(OF_SESSION, tenant_id, upload_session_id)
    return [RecordedEvent(**dict(row)) for row in rows]
