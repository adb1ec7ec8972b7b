"""Composition root of the audit service: what it serves, started by the runtime's host."""

import functools

from intake_audit.handlers import build_dispatcher, subscribe_events
from intake_audit.repo import PostgresEvents
from intake_audit.service import AuditService
from intake_audit.settings import SCHEMA, SERVICE, AuditSettings
from intake_contracts import topics
from intake_runtime.bootstrap import package_dir
from intake_runtime.host import Commands, Opened, Served, ServiceHost


def wire(opened: Opened[AuditSettings]) -> Served[AuditService]:
    settings = opened.settings
    service = AuditService(PostgresEvents(opened.pool))
    group_id = topics.CONSUMER_GROUPS[SERVICE]
    # Queries get their own group: a rebalance of one consumer never pauses the other.
    queries = Commands(
        build_dispatcher(service),
        topics.COMMAND_TOPICS[SERVICE],
        f"{group_id}-queries",
        settings.query_workers,
    )
    events = functools.partial(
        subscribe_events, service=service, group_id=group_id, settings=settings
    )
    return Served(service, queries, subscribers=[events])


# No outbox: the audit service records events and publishes none of its own.
HOST = ServiceHost(SERVICE, SCHEMA, package_dir(__file__, "migrations"), wire, relay=False)


def main() -> None:
    HOST.main(AuditSettings)
