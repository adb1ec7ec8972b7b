"""Waiting on completion's saga, read from its schema (a test-side read, never a service's)."""

import uuid

import asyncpg

from tests.support.waiting import eventually


async def saga_done(db: asyncpg.Connection, session_id: str) -> None:
    """Completion finished the session's saga: the Asset is promoted, its temp object gone."""
    await eventually(
        lambda: db.fetchval(
            "SELECT step FROM completion.completions WHERE upload_session_id = $1",
            uuid.UUID(session_id),
        ),
        lambda step: step == "done",
        timeout_s=60,
    )
