"""Pruning of initiation's own rows: terminal sessions, inbox and published outbox by age.

Not a use case on the Unit port: it deletes across tenants by age, an operation of the
schema's owner that no other use case shares, so it keeps to its own short transaction.
"""

import asyncpg

from intake_contracts.commands import PruneOlderThan, PruneResult
from intake_initiation import repo
from intake_initiation.ports import Unit
from intake_initiation.settings import SCHEMA
from intake_runtime.messaging.dispatch import Command
from intake_runtime.postgres.prune import prune_batch


class InitiationPrune:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def prune(self, command: Command[PruneOlderThan], _unit: Unit) -> PruneResult:
        """One batch; cleanup repeats it until a batch comes back short."""
        return await prune_batch(
            self._pool, SCHEMA, command.principal, command.payload, repo.prune_finished
        )
