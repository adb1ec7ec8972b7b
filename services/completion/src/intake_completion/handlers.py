"""Broker adapter: the one command the completion service handles, through the inbox."""

import asyncpg

from intake_completion.service import SERVICE, CompletionService
from intake_contracts.commands import CommandType
from intake_runtime.messaging.dispatch import CommandDispatcher, TransactionRunner


def build_dispatcher(
    service: CompletionService, runner: TransactionRunner[asyncpg.Connection]
) -> CommandDispatcher[asyncpg.Connection]:
    dispatcher: CommandDispatcher[asyncpg.Connection] = CommandDispatcher(SERVICE, runner)
    # Through the inbox: a redelivered command gets its stored reply and changes nothing.
    dispatcher.register(CommandType.COMPLETE, service.complete, inbox=True)
    return dispatcher
