"""Retention of initiation's own rows: terminal sessions, inbox and published outbox by age."""

import asyncpg

from intake_contracts.commands import PruneOlderThan, PruneResult
from intake_initiation import repo
from intake_initiation.settings import SCHEMA
from intake_runtime.messaging.dispatch import Command
from intake_runtime.postgres import retention


async def prune_terminal_sessions(
    command: Command[PruneOlderThan], tx: asyncpg.Connection
) -> PruneResult:
    """One batch in the command's transaction; cleanup repeats it until a batch comes back
    short. Safe to repeat: a redelivery deletes what is older still, or nothing."""
    retention.require_retention_caller(command.principal)
    older_than, limit = command.payload.older_than, command.payload.limit
    return PruneResult(
        removed=await repo.prune_finished(tx, older_than, limit),
        inbox_removed=await retention.prune_inbox(tx, SCHEMA, older_than, limit),
        outbox_removed=await retention.prune_published_outbox(tx, SCHEMA, older_than, limit),
    )
