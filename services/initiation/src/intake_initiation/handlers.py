"""Broker adapter: which command runs which use case, and whether it goes through the inbox."""

import asyncpg

from intake_contracts.commands import CommandType
from intake_initiation.service import InitiationService
from intake_runtime.messaging.dispatch import CommandDispatcher, TransactionRunner


def build_dispatcher(
    service: InitiationService, runner: TransactionRunner[asyncpg.Connection]
) -> CommandDispatcher[asyncpg.Connection]:
    dispatcher: CommandDispatcher[asyncpg.Connection] = CommandDispatcher("initiation", runner)
    # Changes of state go through the inbox; reads and signing are idempotent by nature.
    dispatcher.register(CommandType.INITIATE, service.initiate, inbox=True)
    dispatcher.register(CommandType.INITIATE_BATCH, service.initiate_batch, inbox=True)
    dispatcher.register(CommandType.CANCEL, service.cancel, inbox=True)
    dispatcher.register(CommandType.MARK_COMPLETED, service.mark_completed, inbox=True)
    dispatcher.register(CommandType.MARK_FAILED, service.mark_failed, inbox=True)
    dispatcher.register(CommandType.FAIL_SESSIONS, service.fail_sessions, inbox=True)
    dispatcher.register(CommandType.TOUCH_ACTIVITY, service.touch_activity, inbox=False)
    dispatcher.register(CommandType.SIGN_PARTS, service.sign_parts, inbox=False)
    dispatcher.register(CommandType.GET_SESSION, service.get_session, inbox=False)
    dispatcher.register(CommandType.RESUME, service.resume, inbox=False)
    dispatcher.register(CommandType.BEGIN_COMPLETION, service.begin_completion, inbox=False)
    return dispatcher
