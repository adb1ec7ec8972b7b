"""Composition root of the initiation service: what it serves, started by the runtime's host."""

from intake_contracts import topics
from intake_initiation import repo
from intake_initiation.handlers import build_dispatcher
from intake_initiation.prune import InitiationPrune
from intake_initiation.service import InitiationService
from intake_initiation.settings import SCHEMA, SERVICE, InitiationSettings
from intake_initiation.storage import S3SessionStorage
from intake_runtime.bootstrap import package_dir
from intake_runtime.host import Commands, Opened, Served, ServiceHost
from intake_runtime.postgres.outbox import Outbox


def wire(opened: Opened[InitiationSettings]) -> Served[InitiationService]:
    settings = opened.settings
    service = InitiationService(
        settings, S3SessionStorage(opened.store, settings.resume_parts_cache_s)
    )
    quota = repo.Quota(settings.tenant_max_open_sessions, settings.tenant_max_open_bytes)
    dispatcher = build_dispatcher(
        service,
        repo.transactions(opened.pool, Outbox(SCHEMA), quota),
        InitiationPrune(opened.pool),
    )
    commands = Commands(
        dispatcher,
        topics.COMMAND_TOPICS[SERVICE],
        topics.CONSUMER_GROUPS[SERVICE],
        settings.command_workers,
    )
    return Served(service, commands)


HOST = ServiceHost(
    SERVICE, SCHEMA, package_dir(__file__, "migrations"), wire, store=True, relay=True
)


def main() -> None:
    HOST.main(InitiationSettings)
