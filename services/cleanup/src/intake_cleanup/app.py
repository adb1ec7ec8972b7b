"""Composition root of the cleanup service and its command line: nothing happens at import time.

intake-cleanup              serve: index events, answer run-job commands, run the schedule
intake-cleanup run <job>    run one job once, print its JSON summary
"""

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

from intake_cleanup import domain
from intake_cleanup.handlers import build_dispatcher, subscribe_index
from intake_cleanup.index import SessionIndex
from intake_cleanup.peers import Peers
from intake_cleanup.repo import PostgresIndex, PostgresIndexDatabase, PostgresJobRuns
from intake_cleanup.retention_repo import PostgresRetention
from intake_cleanup.scheduler import running_schedule
from intake_cleanup.service import CleanupService, job_bodies
from intake_cleanup.settings import SCHEMA, SERVICE, CleanupSettings
from intake_contracts import topics
from intake_contracts.errors import DomainError
from intake_runtime.bootstrap import (
    health_server,
    kafka_broker,
    package_dir,
    readiness,
    reply_client,
)
from intake_runtime.lifecycle import prepared_process, run_service, wait_for_shutdown
from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.messaging.reply_topics import KafkaReplyTopics
from intake_runtime.ports import Clock, utc_now
from intake_runtime.postgres.lifecycle import migrated_pool, running_relay
from intake_runtime.postgres.outbox import Outbox, OutboxRelay
from intake_runtime.storage.s3 import open_object_store


@contextlib.asynccontextmanager
async def open_service(
    settings: CleanupSettings, *, serve: bool = False, clock: Clock = utc_now
) -> AsyncIterator[tuple[CleanupService, OutboxRelay]]:
    """The cleanup service wired to the real stack; `serve` adds the subscribers and the
    health endpoint. The command line and tests use it without them."""
    async with contextlib.AsyncExitStack() as stack:
        pool = await stack.enter_async_context(
            migrated_pool(settings, SCHEMA, package_dir(__file__, "migrations"))
        )
        store = await stack.enter_async_context(open_object_store(settings))
        broker = await stack.enter_async_context(kafka_broker(settings, SERVICE))
        requests = await stack.enter_async_context(reply_client(settings, broker, SERVICE))
        jobs = job_bodies(
            settings,
            PostgresIndex(pool),
            store,
            Peers(requests),
            PostgresRetention(pool),
            KafkaReplyTopics(KafkaAccess.of(settings)),
        )
        runs = PostgresJobRuns(pool, Outbox(SCHEMA), settings.instance_id)
        service = CleanupService(runs, jobs, clock=clock)
        dispatcher = build_dispatcher(service)
        if serve:
            dispatcher.subscribe(
                broker,
                topics.COMMAND_TOPICS[SERVICE],
                topics.CONSUMER_GROUPS[SERVICE],
                settings.command_workers,
                settings,
            )
            subscribe_index(broker, SessionIndex(PostgresIndexDatabase(pool)), settings)
        await broker.start()
        stack.push_async_callback(dispatcher.commit_handled)  # unwound before broker.stop
        relay = await stack.enter_async_context(running_relay(pool, broker, SCHEMA))
        if serve:
            ready = readiness(broker, database=pool, replies=requests)
            await stack.enter_async_context(health_server(settings, ready))
        yield service, relay


async def serve(settings: CleanupSettings) -> None:
    async with (
        open_service(settings, serve=True) as (service, _),
        running_schedule(service, settings),
    ):
        await wait_for_shutdown()


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
        run_service(SERVICE, CleanupSettings, serve)
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
