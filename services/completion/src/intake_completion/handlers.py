"""Broker adapter: the commands the completion service handles."""

from intake_completion.prune import CompletionPrune
from intake_completion.service import CompletionService
from intake_completion.settings import SERVICE
from intake_contracts.commands import Commands
from intake_runtime.messaging.dispatch import CommandDispatcher, NoTransaction


def build_dispatcher(
    service: CompletionService, prune: CompletionPrune | None = None
) -> CommandDispatcher[None]:
    """`prune` is Postgres-only: the saga's in-memory tests run without it."""
    dispatcher: CommandDispatcher[None] = CommandDispatcher(SERVICE, NoTransaction())
    # No inbox transaction around the saga: it commits each step on its own and is idempotent
    # through its saga row and the Asset's unique session, so a redelivery converges (it is
    # answered 200 with the Asset where the first delivery may have answered 201).
    dispatcher.register(Commands.COMPLETE, service.complete, inbox=False)
    if prune is not None:
        # Deleting by age and reading ownership are idempotent by themselves.
        dispatcher.register(Commands.PRUNE_COMPLETION_RECORDS, prune.prune, inbox=False)
        dispatcher.register(Commands.PROMOTING_KEYS, prune.promoting_keys, inbox=False)
    return dispatcher
