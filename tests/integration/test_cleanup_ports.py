"""Cleanup's ports against the real stack: the same contract suites as the fakes."""

import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

import intake_cleanup.app as cleanup_app
from intake_cleanup.domain import Job, RunStatus
from intake_cleanup.prune_repo import PostgresPrune
from intake_cleanup.repo import PostgresIndexDatabase, PostgresJobRuns
from intake_cleanup.settings import SCHEMA, CleanupSettings
from intake_contracts import topics
from intake_contracts.events import EventType
from intake_runtime.bootstrap import package_dir
from intake_runtime.messaging import kafka, names
from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.messaging.reply_topics import KafkaReplyTopics
from intake_runtime.messaging.requests import RequestReplyClient
from intake_runtime.postgres.lifecycle import migrated_pool
from intake_runtime.postgres.outbox import Outbox
from intake_runtime.storage.s3 import ObjectStore, open_object_store
from tests.support import stack
from tests.support.contracts.cleanup import (
    CleanupStorageContract,
    IndexDatabaseContract,
    OpenUpload,
    PruneRepositoryContract,
)
from tests.support.contracts.cleanup_outbound import NewTopic, ReplyTopicsContract
from tests.support.contracts.cleanup_runs import JobRunsContract, RunEventTypes, StoredRun
from tests.support.fakes.cleanup import JobRun

pytestmark = pytest.mark.integration


def _settings(stack_env: dict[str, str]) -> CleanupSettings:
    keys = ("DATABASE_URL", "AWS_ENDPOINT_URL", "AWS_BUCKET")
    return CleanupSettings(**{key: stack_env[key] for key in keys}, INTAKE_ENV="local")


@pytest.fixture
async def pool(stack_env: dict[str, str]) -> AsyncIterator[asyncpg.Pool]:
    migrations = package_dir(cleanup_app.__file__, "migrations")
    async with migrated_pool(_settings(stack_env), SCHEMA, migrations) as pool:
        yield pool


class TestPostgresIndexDatabase(IndexDatabaseContract):
    """Sessions of a tenant unique to each test, every read scoped to it."""

    @pytest.fixture
    def database(self, pool: asyncpg.Pool) -> PostgresIndexDatabase:
        return PostgresIndexDatabase(pool)


class TestPostgresPrune(PruneRepositoryContract):
    @pytest.fixture
    def prune_repo(self, pool: asyncpg.Pool) -> PostgresPrune:
        return PostgresPrune(pool)


class TestObjectStore(CleanupStorageContract):
    @pytest.fixture
    async def storage(self, stack_env: dict[str, str]) -> AsyncIterator[ObjectStore]:
        async with open_object_store(_settings(stack_env)) as store:
            yield store

    @pytest.fixture
    def open_upload(self, storage: ObjectStore) -> OpenUpload:
        async def open_upload(bucket: str, key: str) -> str:
            return (await storage.create_multipart(bucket, key, "text/plain")).upload_id

        return open_upload


class TestPostgresJobRuns(JobRunsContract):
    """Runs of ids unique to each test; the locks are the jobs' own (nothing else runs them
    here: the e2e services run with their schedule off)."""

    @pytest.fixture
    def runs(self, pool: asyncpg.Pool) -> PostgresJobRuns:
        return PostgresJobRuns(pool, Outbox(SCHEMA), "contract-tests")

    @pytest.fixture
    def stored(self, pool: asyncpg.Pool) -> StoredRun:
        async def stored(run_id: uuid.UUID) -> JobRun | None:
            row = await pool.fetchrow(
                "SELECT job, status, started_at, finished_at, stats, errors"
                " FROM cleanup.job_runs WHERE run_id = $1",
                run_id,
            )
            if row is None:
                return None
            return JobRun(
                Job(row["job"]),
                RunStatus(row["status"]),
                row["started_at"],
                row["finished_at"],
                row["stats"],
                row["errors"],
            )

        return stored

    @pytest.fixture
    def emitted(self, pool: asyncpg.Pool) -> RunEventTypes:
        async def emitted(run_id: uuid.UUID) -> list[EventType]:
            rows = await pool.fetch(
                "SELECT envelope->>'type' AS type FROM cleanup.outbox"
                " WHERE envelope->>'correlation_id' = $1 ORDER BY id",
                str(run_id),
            )
            return [EventType(row["type"]) for row in rows]

        return emitted


class TestKafkaReplyTopics(ReplyTopicsContract):
    """Topics of this run's namespace, each unique to its test and removed after it."""

    @pytest.fixture
    def bootstrap(self, stack_env: dict[str, str]) -> KafkaAccess:
        return stack.kafka_access(stack_env)

    @pytest.fixture
    def topics(self, bootstrap: KafkaAccess) -> KafkaReplyTopics:
        return KafkaReplyTopics(bootstrap)

    @pytest.fixture
    async def made(self, bootstrap: KafkaAccess) -> AsyncIterator[list[str]]:
        made: list[str] = []
        yield made
        for topic in made:
            await kafka.delete_topic(bootstrap, topic)

    def _new(self, bootstrap: KafkaAccess, made: list[str], name: Callable[[], str]) -> NewTopic:
        async def new() -> str:
            topic = name()
            await kafka.ensure_topics(bootstrap, [topic], partitions=1)
            made.append(topic)
            return topic

        return new

    @pytest.fixture
    def unclaimed(self, bootstrap: KafkaAccess, made: list[str]) -> NewTopic:
        """A reply topic whose instance is gone: nobody in the group named like it."""
        return self._new(bootstrap, made, lambda: names.topic(topics.reply_topic("gone", _hex())))

    @pytest.fixture
    def elsewhere(self, bootstrap: KafkaAccess, made: list[str]) -> NewTopic:
        return self._new(bootstrap, made, lambda: names.topic(f"intake.contract.{_hex()}"))

    @pytest.fixture
    async def claimed(
        self, bootstrap: KafkaAccess, stack_env: dict[str, str]
    ) -> AsyncIterator[NewTopic]:
        """The reply topic of a live request/reply client (its stop deletes the topic)."""
        settings = stack.kafka_settings(stack_env)
        broker: KafkaBroker = kafka.build_broker(settings, "contract-tests")
        await broker.start()
        clients: list[RequestReplyClient] = []

        async def claimed() -> str:
            client = RequestReplyClient(
                broker,
                access=bootstrap,
                service="live",
                instance_id=_hex(),
                timeout_s=5,
                publish_timeout_s=settings.publish_timeout_s,
                fetch_wait_ms=settings.kafka_fetch_wait_ms,
            )
            await client.start()
            clients.append(client)
            return client.reply_topic

        try:
            yield claimed
        finally:
            for client in clients:
                await client.stop()
            await broker.stop()


def _hex() -> str:
    return uuid.uuid4().hex[:12]
