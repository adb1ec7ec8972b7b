"""Pruning and the ownership question cleanup asks completion: finished saga rows by age, and
which permanent keys a promotion still owns. Assets are never removed: they are the product."""

import asyncpg

from intake_completion import repo
from intake_completion.settings import SCHEMA
from intake_contracts import keys
from intake_contracts.commands import PromotingKeys, PromotingKeysView, PruneOlderThan, PruneResult
from intake_runtime.messaging.dispatch import Command
from intake_runtime.postgres.prune import prune_batch, require_prune_caller


class CompletionPrune:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def prune(self, command: Command[PruneOlderThan], _: None) -> PruneResult:
        """One batch; cleanup repeats it until a batch comes back short. A `complete` retried
        after its saga row is gone answers from the Asset."""
        return await prune_batch(
            self._pool, SCHEMA, command.principal, command.payload, repo.prune_done
        )

    async def promoting_keys(self, command: Command[PromotingKeys], _: None) -> PromotingKeysView:
        """The asked keys of the caller's tenant that an unfinished saga will still copy to;
        a key of another tenant, or outside the asset layout, is never owned here."""
        require_prune_caller(command.principal)
        wanted = {
            named[1]: key
            for key in command.payload.object_keys
            if (named := keys.asset_of_key(key)) is not None and named[0] == command.tenant_id
        }
        owned = await repo.promoting(self._pool, command.tenant_id, wanted)
        return PromotingKeysView(promoting=sorted(wanted[asset] for asset in owned))
