"""Composition root of the completion service: what it serves, started by the runtime's host."""

import functools

from intake_completion.handlers import build_dispatcher
from intake_completion.outbound import KafkaOutboundCommands
from intake_completion.promotion import Promoter, sweeping
from intake_completion.prune import CompletionPrune
from intake_completion.repo import PostgresSagaDatabase
from intake_completion.service import CompletionService
from intake_completion.settings import SCHEMA, SERVICE, CompletionSettings
from intake_completion.storage import CopyPlan, S3CompletionStorage
from intake_contracts import topics
from intake_runtime.bootstrap import package_dir
from intake_runtime.host import Commands, Opened, Served, ServiceHost
from intake_runtime.postgres.outbox import Outbox


def wire(opened: Opened[CompletionSettings]) -> Served[CompletionService]:
    settings = opened.settings
    storage = S3CompletionStorage(
        opened.store,
        CopyPlan(
            settings.multipart_copy_threshold,
            settings.copy_part_size,
            settings.copy_concurrency,
            settings.promotion_if_none_match,
        ),
    )
    database = PostgresSagaDatabase(opened.pool, Outbox(SCHEMA))
    promoter = Promoter(settings, database, storage)
    service = CompletionService(
        settings, database, storage, KafkaOutboundCommands(opened.replies), promoter
    )
    commands = Commands(
        build_dispatcher(service, CompletionPrune(opened.pool)),
        topics.COMMAND_TOPICS[SERVICE],
        topics.CONSUMER_GROUPS[SERVICE],
        settings.command_workers,
    )
    # The sweep picks up promotions nobody holds; stopping it cancels the running ones.
    return Served(service, commands, background=[functools.partial(sweeping, promoter)])


# The reply client: `complete` asks initiation to begin and record the completion.
HOST = ServiceHost(
    SERVICE, SCHEMA, package_dir(__file__, "migrations"), wire, store=True, replies=True
)


def main() -> None:
    HOST.main(CompletionSettings)
