"""Composition root of the cleanup service and its command line: what it serves, started by the
runtime's host; nothing happens at import time.

intake-cleanup              serve: index events, answer run-job commands, run the schedule
intake-cleanup run <job>    run one job once, print its JSON summary
"""

import argparse
import asyncio
import contextlib
import functools
import sys
from collections.abc import AsyncIterator

from intake_cleanup import domain
from intake_cleanup.handlers import build_dispatcher, subscribe_index
from intake_cleanup.index import SessionIndex
from intake_cleanup.outbound import KafkaOutboundCommands
from intake_cleanup.prune_repo import PostgresPrune
from intake_cleanup.repo import PostgresIndex, PostgresIndexDatabase, PostgresJobRuns
from intake_cleanup.scheduler import running_schedule
from intake_cleanup.service import CleanupService, job_bodies
from intake_cleanup.settings import SCHEMA, SERVICE, CleanupSettings
from intake_contracts import topics
from intake_contracts.errors import DomainError
from intake_runtime.bootstrap import package_dir
from intake_runtime.host import Commands, Opened, Served, ServiceHost
from intake_runtime.lifecycle import prepared_process
from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.messaging.reply_topics import KafkaReplyTopics
from intake_runtime.ports import Clock, utc_now
from intake_runtime.postgres.outbox import Outbox, OutboxRelay


def wire(opened: Opened[CleanupSettings], clock: Clock = utc_now) -> Served[CleanupService]:
    settings, pool = opened.settings, opened.pool
    jobs = job_bodies(
        settings,
        PostgresIndex(pool),
        opened.store,
        KafkaOutboundCommands(opened.replies),
        PostgresPrune(pool),
        KafkaReplyTopics(KafkaAccess.of(settings)),
    )
    runs = PostgresJobRuns(pool, Outbox(SCHEMA), settings.instance_id)
    service = CleanupService(runs, jobs, clock=clock)
    commands = Commands(
        build_dispatcher(service),
        topics.COMMAND_TOPICS[SERVICE],
        topics.CONSUMER_GROUPS[SERVICE],
        settings.command_workers,
    )
    index = SessionIndex(PostgresIndexDatabase(pool))
    return Served(
        service,
        commands,
        subscribers=[functools.partial(subscribe_index, index=index, settings=settings)],
        background=[functools.partial(running_schedule, service, settings)],
    )


def host(clock: Clock = utc_now) -> ServiceHost[CleanupSettings, CleanupService]:
    """Cleanup as the host runs it: with S3, and a reply client (its jobs ask initiation and
    completion for their prune batches)."""
    return ServiceHost(
        SERVICE,
        SCHEMA,
        package_dir(__file__, "migrations"),
        functools.partial(wire, clock=clock),
        store=True,
        replies=True,
    )


@contextlib.asynccontextmanager
async def open_service(
    settings: CleanupSettings, *, clock: Clock = utc_now
) -> AsyncIterator[tuple[CleanupService, OutboxRelay]]:
    """The cleanup service on the real stack without its subscribers, health endpoint and
    schedule: what the command line and tests use."""
    async with host(clock).running(settings, serve=False) as running:
        assert running.relay is not None  # noqa: S101 - the host runs cleanup's relay
        yield running.served.service, running.relay


async def run_once(settings: CleanupSettings, job: domain.Job, tenant_id: str | None) -> str:
    """Run `job` once and return its JSON summary, its events handed to Kafka before exit."""
    async with open_service(settings) as (service, relay):
        view = await service.run(job, tenant_id)
        with contextlib.suppress(Exception):  # the serving replica's relay publishes them later
            while await relay.relay_once():
                pass
    return view.model_dump_json(indent=2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="intake-cleanup", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("run", help="run one job once and print its summary")
    run.add_argument("job", help=", ".join(job.value for job in domain.Job))
    run.add_argument("--tenant", help="limit a session job to this tenant's sessions")
    args = parser.parse_args(argv)
    if args.command != "run":
        host().main(CleanupSettings)
        return
    try:
        job = domain.parse_job(args.job)
    except DomainError as error:
        parser.error(error.detail)  # exits 2
    if args.tenant and job in domain.STORAGE_JOBS:
        parser.error(f"{job} cannot be limited to a tenant: a temp key does not name its tenant")
    settings = prepared_process(SERVICE, CleanupSettings)
    # A run that recorded errors still exits 0: the summary says what failed.
    sys.stdout.write(asyncio.run(run_once(settings, job, args.tenant)) + "\n")
