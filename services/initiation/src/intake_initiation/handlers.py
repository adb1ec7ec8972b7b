"""Broker adapter: which command runs which use case, and whether it goes through the inbox."""

from intake_contracts.commands import Commands
from intake_initiation.ports import Unit
from intake_initiation.prune import InitiationPrune
from intake_initiation.service import InitiationService
from intake_initiation.settings import SERVICE
from intake_runtime.messaging.dispatch import CommandDispatcher, TransactionRunner


def build_dispatcher(
    service: InitiationService,
    runner: TransactionRunner[Unit],
    prune: InitiationPrune | None = None,
) -> CommandDispatcher[Unit]:
    """`prune` is Postgres-only: the use cases' in-memory tests run without it."""
    dispatcher: CommandDispatcher[Unit] = CommandDispatcher(SERVICE, runner)
    # Changes of state go through the inbox; reads and signing are idempotent by nature.
    dispatcher.register(Commands.INITIATE, service.initiate, inbox=True)
    dispatcher.register(Commands.INITIATE_BATCH, service.initiate_batch, inbox=True)
    dispatcher.register(Commands.CANCEL, service.cancel, inbox=True)
    dispatcher.register(Commands.MARK_COMPLETED, service.mark_completed, inbox=True)
    dispatcher.register(Commands.MARK_FAILED, service.mark_failed, inbox=True)
    dispatcher.register(Commands.FAIL_SESSIONS, service.fail_sessions, inbox=True)
    dispatcher.register(Commands.TOUCH_ACTIVITY, service.touch_activity, inbox=False)
    dispatcher.register(Commands.SIGN_PARTS, service.sign_parts, inbox=False)
    dispatcher.register(Commands.GET_SESSION, service.get_session, inbox=False)
    dispatcher.register(Commands.RESUME, service.resume, inbox=False)
    dispatcher.register(Commands.BEGIN_COMPLETION, service.begin_completion, inbox=False)
    if prune is not None:
        # Deletes by age, idempotent by nature, in a short transaction of its own.
        dispatcher.register(Commands.PRUNE_TERMINAL_SESSIONS, prune.prune, inbox=False)
    return dispatcher
