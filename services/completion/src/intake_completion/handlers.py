"""Broker adapter: the one command the completion service handles."""

from intake_completion.service import CompletionService
from intake_completion.settings import SERVICE
from intake_contracts.commands import Commands
from intake_runtime.messaging.dispatch import CommandDispatcher, NoTransaction


def build_dispatcher(service: CompletionService) -> CommandDispatcher[None]:
    dispatcher: CommandDispatcher[None] = CommandDispatcher(SERVICE, NoTransaction())
    # No inbox transaction around the saga: it commits each step on its own and is idempotent
    # through its saga row and the Asset's unique session, so a redelivery converges (it is
    # answered 200 with the Asset where the first delivery may have answered 201).
    dispatcher.register(Commands.COMPLETE, service.complete, inbox=False)
    return dispatcher
