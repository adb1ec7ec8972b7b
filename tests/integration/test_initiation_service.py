"""The initiation use cases in-process against real Postgres and S3 (no Kafka in between)."""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import asyncpg
import httpx
import pytest
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from intake_contracts.commands import (
    BatchFile,
    BatchResult,
    Commands,
    InitiateBatch,
    InitiateUpload,
    MarkCompleted,
    SessionRef,
)
from intake_contracts.envelope import Envelope, Principal
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.events import EventType
from intake_contracts.replies import Reply
from intake_contracts.sessions import SessionView, StatusView, UploadStatus
from intake_initiation import repo
from intake_initiation.inbox import PostgresTransactions, Transaction
from intake_initiation.ports import Unit
from intake_initiation.service import InitiationService
from intake_initiation.settings import SCHEMA, InitiationSettings
from intake_initiation.storage import S3SessionStorage
from intake_runtime.bootstrap import package_dir
from intake_runtime.messaging import names
from intake_runtime.messaging.dispatch import Command
from intake_runtime.postgres.lifecycle import migrated_pool
from intake_runtime.postgres.outbox import Outbox, OutboxRelay
from intake_runtime.storage.s3 import open_object_store
from tests.support import tokens
from tests.support.events import lifecycle_event

pytestmark = pytest.mark.integration


def settings_for(stack_env: dict[str, str], **overrides: Any) -> InitiationSettings:
    values = {
        "DATABASE_URL": stack_env["DATABASE_URL"],
        "AWS_ENDPOINT_URL": stack_env["AWS_ENDPOINT_URL"],
        "AWS_BUCKET": stack_env["AWS_BUCKET"],
        "INTAKE_ENV": "local",
        **overrides,
    }
    return InitiationSettings(**values)


@pytest.fixture
async def pool(stack_env: dict[str, str]) -> AsyncIterator[asyncpg.Pool]:
    import intake_initiation.app as initiation_app

    migrations = package_dir(initiation_app.__file__, "migrations")
    async with migrated_pool(settings_for(stack_env), SCHEMA, migrations) as created:
        yield created


def command(payload: BaseModel, principal: Principal) -> Command[Any]:
    envelope = Envelope(
        type="test", correlation_id="test", tenant_id=principal.tenant_id, principal=principal
    )
    return Command(envelope, payload)


RACE_ROUNDS = 20


SMALL_FILE = InitiateUpload(file_name="x.txt", file_size=5, mime_type="text/plain", brand_id="b")


async def run_once(
    pool: asyncpg.Pool,
    settings: InitiationSettings,
    use_case: Callable[[InitiationService, Unit], Awaitable[BaseModel]],
) -> Reply:
    """`use_case` run once by a service on the real S3, in one transaction: its reply."""
    async with open_object_store(settings) as store:
        service = InitiationService(settings, S3SessionStorage(store))

        async def work(tx: Unit) -> Reply:
            return Reply.success(await use_case(service, tx))

        return await repo.transactions(pool, Outbox(SCHEMA)).run(uuid.uuid4(), "test", work)


async def test_per_tenant_strategy_puts_each_tenant_in_its_own_bucket(
    stack_env: dict[str, str], pool: asyncpg.Pool, s3: Any
) -> None:
    settings = settings_for(stack_env, STORAGE_PROVISION_STRATEGY="per_tenant")
    tenant = tokens.new_tenant()
    principal = tokens.uploader(tenant)
    reply = await run_once(
        pool, settings, lambda service, tx: service.initiate(command(SMALL_FILE, principal), tx)
    )
    view = reply.unwrap(SessionView)
    expected_bucket = f"{stack_env['AWS_BUCKET']}-{tenant}"
    assert view.direct is not None
    assert f"/{expected_bucket}/temp/uploads/{view.upload_session_id}/original" in view.direct.url
    async with httpx.AsyncClient() as raw:
        put = await raw.put(view.direct.url, content=b"12345", headers=view.direct.headers)
    assert put.status_code == 200
    stored = s3.get_object(
        Bucket=expected_bucket, Key=f"temp/uploads/{view.upload_session_id}/original"
    )
    assert stored["Body"].read() == b"12345"


async def test_mark_completed_and_cancel_cannot_both_win(
    stack_env: dict[str, str], pool: asyncpg.Pool
) -> None:
    settings = settings_for(stack_env)
    tenant = tokens.new_tenant()
    user = tokens.uploader(tenant)
    completion = user.model_copy(update={"service": "completion"})
    runner = repo.transactions(pool, Outbox(SCHEMA))
    async with open_object_store(settings) as store:
        service = InitiationService(settings, S3SessionStorage(store))

        async def initiate(tx: Unit) -> Reply:
            return Reply.success(await service.initiate(command(SMALL_FILE, user), tx))

        for _ in range(RACE_ROUNDS):
            view = (await runner.run(uuid.uuid4(), "t", initiate)).unwrap(SessionView)
            ref = SessionRef(upload_session_id=view.upload_session_id)
            asset_id = uuid.uuid4()

            async def complete(
                tx: Unit, ref: SessionRef = ref, asset_id: uuid.UUID = asset_id
            ) -> Reply:
                mark = MarkCompleted(upload_session_id=ref.upload_session_id, asset_id=asset_id)
                return Reply.success(await service.mark_completed(command(mark, completion), tx))

            async def cancel(tx: Unit, ref: SessionRef = ref) -> Reply:
                return Reply.success(await service.cancel(command(ref, user), tx))

            # Both at once, each in its own transaction: the compare-and-set decides.
            completed, cancelled = await asyncio.gather(
                runner.run(uuid.uuid4(), "t", complete), runner.run(uuid.uuid4(), "t", cancel)
            )
            row = await pool.fetchrow(
                "SELECT status, asset_id FROM initiation.upload_sessions WHERE id = $1",
                view.upload_session_id,
            )
            answered = cancelled.unwrap(StatusView).status
            assert answered == row["status"]  # the cancel answers the state that won
            if row["status"] == "COMPLETED":
                assert completed.ok
                assert row["asset_id"] == asset_id
            else:
                assert row["status"] == "CANCELLED"
                assert not completed.ok
                assert row["asset_id"] is None


async def test_users_cannot_send_service_transitions(
    stack_env: dict[str, str], pool: asyncpg.Pool
) -> None:
    settings = settings_for(stack_env)
    user = tokens.uploader()
    mark = MarkCompleted(upload_session_id=uuid.uuid4(), asset_id=uuid.uuid4())
    reply = await run_once(
        pool, settings, lambda service, tx: service.mark_completed(command(mark, user), tx)
    )
    assert reply.error is not None
    assert reply.error.code == "permission_denied"


async def test_a_batch_file_failing_for_any_reason_fails_alone(
    stack_env: dict[str, str], pool: asyncpg.Pool
) -> None:
    settings = settings_for(stack_env)
    user = tokens.uploader()
    files = [
        BatchFile(
            file_name=f"{i}.txt", file_size=5, mime_type="text/plain", client_reference=f"r{i}"
        )
        for i in range(3)
    ]
    # Past the contract's bounds, as a command from an older producer could be: this file fails
    # with a ValidationError, not a DomainError, and the others must not notice.
    files[1] = BatchFile.model_construct(
        file_name="1.txt",
        file_size=2**60,
        mime_type="text/plain",
        client_reference="r1",
        brand_id=None,
    )
    batch = InitiateBatch.model_construct(brand_id="b", batch_reference=None, files=files)
    reply = await run_once(
        pool, settings, lambda service, tx: service.initiate_batch(command(batch, user), tx)
    )
    result = reply.unwrap(BatchResult)
    outcomes = [
        (item.session is not None, item.error.code if item.error else None)
        for item in result.uploads
    ]
    assert outcomes == [(True, None), (False, ErrorCode.VALIDATION_FAILED), (True, None)]


async def test_a_refused_command_keeps_only_its_refusal_which_a_redelivery_gets(
    pool: asyncpg.Pool,
) -> None:
    runner, message_id, event_id = PostgresTransactions(pool, SCHEMA), uuid.uuid4(), uuid.uuid4()
    runs = 0

    async def refused(tx: Transaction) -> Reply:
        nonlocal runs
        runs += 1
        await tx.connection.execute(
            "INSERT INTO initiation.outbox (event_id, topic, key, envelope) VALUES ($1, 't', 'k', $2)",
            event_id,
            {},
        )
        raise DomainError(ErrorCode.INVALID_SESSION_STATE, "refused")

    first = await runner.run(message_id, "t", refused)
    again = await runner.run(message_id, "t", refused)
    assert first.error is not None
    assert first.error.code == ErrorCode.INVALID_SESSION_STATE
    assert again == first
    assert runs == 1  # the redelivery got the stored refusal without running the work
    written = "SELECT count(*) FROM initiation.outbox WHERE event_id = $1"
    assert await pool.fetchval(written, event_id) == 0  # the refused work left nothing


async def test_a_duplicate_racing_a_refusal_gets_the_same_single_reply(pool: asyncpg.Pool) -> None:
    """The first delivery is refused, the second (blocked on the first's claim) succeeds:
    both answer the one reply stored, never two different ones."""
    runner, message_id = PostgresTransactions(pool, SCHEMA), uuid.uuid4()
    runs = 0

    async def work(tx: Transaction) -> Reply:
        nonlocal runs
        runs += 1
        if runs == 1:
            await asyncio.sleep(0.3)  # the duplicate is waiting on our claim meanwhile
            raise DomainError(ErrorCode.INVALID_SESSION_STATE, "refused")
        return Reply.success(
            StatusView(upload_session_id=uuid.uuid4(), status=UploadStatus.CANCELLED)
        )

    first, second = await asyncio.gather(
        runner.run(message_id, "t", work), runner.run(message_id, "t", work)
    )
    stored = await pool.fetchval(
        "SELECT reply FROM initiation.inbox WHERE message_id = $1", message_id
    )
    assert first == second == Reply.model_validate(stored)


async def test_events_are_written_with_the_reply_except_those_of_an_undone_savepoint(
    pool: asyncpg.Pool,
) -> None:
    """Initiation's unit keeps its events until the runner's last statement writes them with
    the inbox reply; a savepoint undone forgets the events added inside it."""
    runner, message_id = repo.transactions(pool, Outbox(SCHEMA)), uuid.uuid4()
    event = lifecycle_event()
    keys = [f"k-{uuid.uuid4()}" for _ in range(3)]

    async def work(tx: Unit) -> Reply:
        for key in keys[:2]:
            await tx.outbox.add(
                EventType.UPLOAD_CANCELLED, event, key=key, tenant_id="t1", correlation_id="c"
            )
        with contextlib.suppress(OSError):
            async with tx.savepoint():
                await tx.outbox.add(
                    EventType.UPLOAD_CANCELLED,
                    event,
                    key=keys[2],
                    tenant_id="t1",
                    correlation_id="c",
                )
                raise OSError("this file failed")
        return Reply.success(
            StatusView(upload_session_id=uuid.uuid4(), status=UploadStatus.CANCELLED)
        )

    reply = await runner.run(message_id, "t", work)
    written = await pool.fetch(
        "SELECT key, namespace FROM initiation.outbox WHERE key = ANY($1::text[]) ORDER BY id",
        keys,
    )
    stored = await pool.fetchval(
        "SELECT reply FROM initiation.inbox WHERE message_id = $1", message_id
    )
    assert [row["key"] for row in written] == keys[:2]
    assert {row["namespace"] for row in written} == {names.namespace()}  # its relay's alone
    assert Reply.model_validate(stored) == reply


@contextlib.asynccontextmanager
async def outbox_of_its_own(pool: asyncpg.Pool, namespace: str) -> AsyncIterator[str]:
    """A schema of its own holding one unpublished event of `namespace`, so that no running
    relay of a test system sees the row; dropped afterwards."""
    schema = f"relay_{uuid.uuid4().hex[:8]}"
    await pool.execute(
        f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.outbox (LIKE initiation.outbox INCLUDING ALL)"
    )
    try:
        await pool.execute(
            f"INSERT INTO {schema}.outbox (event_id, topic, key, envelope, namespace)"
            " VALUES ($1, 't', 'k', $2, $3)",
            uuid.uuid4(),
            {},
            namespace,
        )
        yield schema
    finally:
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")


async def unpublished(pool: asyncpg.Pool, schema: str) -> int:
    return int(
        await pool.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL")
    )


async def test_a_relay_publishes_nothing_while_another_holds_the_schemas_lock(
    pool: asyncpg.Pool,
) -> None:
    """The lock and the batch are one statement now: a locked-out relay reads no row."""
    async with outbox_of_its_own(pool, names.namespace()) as schema:
        relay = OutboxRelay(pool, cast(KafkaBroker, None), schema)  # locked out: sends nothing
        lock = f"outbox:{schema}:{names.namespace()}"
        async with pool.acquire() as other, other.transaction():
            await other.execute("SELECT pg_advisory_xact_lock(hashtext($1))", lock)
            assert await relay.relay_once() == 0
        # Unlocked, it reads the row (and fails on the broker it was not given).
        with pytest.raises(AttributeError):
            await relay.relay_once()
        assert await unpublished(pool, schema) == 1


async def test_a_relay_leaves_the_events_another_namespace_wrote_to_that_namespaces_relay(
    pool: asyncpg.Pool,
) -> None:
    """Two deployments on one database (a test run beside `make up`): each relays its own."""
    async with outbox_of_its_own(pool, "another-deployment") as schema:
        relay = OutboxRelay(pool, cast(KafkaBroker, None), schema)  # a send would raise
        assert await relay.relay_once() == 0
        assert await relay.backlog() == (0, 0.0)
        assert await unpublished(pool, schema) == 1


@contextlib.asynccontextmanager
async def claim_last_initiation(
    stack_env: dict[str, str], statements: list[str] | None = None
) -> AsyncIterator[tuple[Any, InitiationService, asyncpg.Pool]]:
    """Initiation's own runner (an initiate runs claim-last) on a pool whose connections
    record every statement they send, and the service on real S3."""
    settings = settings_for(stack_env)

    async def record(connection: asyncpg.Connection) -> None:
        for type_name in ("json", "jsonb"):  # as the services' pools have them
            await connection.set_type_codec(
                type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
            )
        if statements is not None:
            connection.add_query_logger(lambda query: statements.append(query.query))

    async def no_reset(connection: asyncpg.Connection) -> None:
        """The services release connections without a reset query."""

    logged = await asyncpg.create_pool(
        stack_env["DATABASE_URL"], min_size=1, max_size=4, init=record, reset=no_reset
    )
    try:
        async with open_object_store(settings) as store:
            service = InitiationService(settings, S3SessionStorage(store))
            yield repo.transactions(logged, Outbox(SCHEMA)), service, logged
    finally:
        await logged.close()


def initiate_work(service: InitiationService, command_: Command[Any]) -> Any:
    async def work(tx: Unit) -> Reply:
        return Reply.success(await service.initiate(command_, tx))

    return work


async def sessions_and_events(pool: asyncpg.Pool, session_id: uuid.UUID) -> tuple[int, int]:
    rows = await pool.fetchval(
        "SELECT count(*) FROM initiation.upload_sessions WHERE id = $1", session_id
    )
    events = await pool.fetchval(
        "SELECT count(*) FROM initiation.outbox WHERE key = $1", str(session_id)
    )
    return rows, events


async def test_an_initiate_is_one_statement_and_its_redelivery_changes_nothing(
    stack_env: dict[str, str], pool: asyncpg.Pool, s3: Any
) -> None:
    """Claim-last: the session, the inbox claim, the reply and both lifecycle events go to
    Postgres as one statement; a redelivery names the same session, gets the stored reply,
    and its own multipart upload is aborted while the session's stays open."""
    statements: list[str] = []
    principal = tokens.uploader()
    request = InitiateUpload(
        file_name="big.bin",
        file_size=20 * 2**20,
        mime_type="application/octet-stream",
        brand_id="b",
    )
    sent = command(request, principal)
    message_id = sent.envelope.message_id
    async with claim_last_initiation(stack_env, statements) as (runner, service, _):
        warm_up = command(request, principal)  # asyncpg's one-time type look-ups, not ours
        await runner.run(
            warm_up.envelope.message_id, Commands.INITIATE.name, initiate_work(service, warm_up)
        )
        statements.clear()
        work = initiate_work(service, sent)
        first = await runner.run(message_id, Commands.INITIATE.name, work)
        sent_by_first = list(statements)
        again = await runner.run(message_id, Commands.INITIATE.name, work)
    view = first.unwrap(SessionView)
    assert len(sent_by_first) == 1, sent_by_first
    assert again == first
    assert await sessions_and_events(pool, view.upload_session_id) == (1, 2)
    uploads = s3.list_multipart_uploads(
        Bucket=stack_env["AWS_BUCKET"], Prefix=f"temp/uploads/{view.upload_session_id}/"
    ).get("Uploads", [])
    stored_upload = await pool.fetchval(
        "SELECT multipart_upload_id FROM initiation.upload_sessions WHERE id = $1",
        view.upload_session_id,
    )
    assert [upload["UploadId"] for upload in uploads] == [stored_upload]


async def test_duplicate_initiates_at_once_make_one_session_and_one_reply(
    stack_env: dict[str, str], pool: asyncpg.Pool
) -> None:
    principal = tokens.uploader()
    request = InitiateUpload(file_name="a.txt", file_size=5, mime_type="text/plain", brand_id="b")
    sent = command(request, principal)
    async with claim_last_initiation(stack_env) as (runner, service, _):
        work = initiate_work(service, sent)
        replies = await asyncio.gather(
            *(runner.run(sent.envelope.message_id, Commands.INITIATE.name, work) for _ in range(4))
        )
    ids = {reply.unwrap(SessionView).upload_session_id for reply in replies}
    assert len(ids) == 1
    assert await sessions_and_events(pool, ids.pop()) == (1, 2)


async def test_initiates_racing_on_one_idempotency_key_answer_the_one_session(
    stack_env: dict[str, str], pool: asyncpg.Pool
) -> None:
    """Different commands, one key: the loser's one statement writes nothing, and its work runs
    again the classic way, where it finds the winner's session and replays it."""
    principal = tokens.uploader()
    request = InitiateUpload(
        file_name="a.txt",
        file_size=5,
        mime_type="text/plain",
        brand_id="b",
        idempotency_key=f"key-{uuid.uuid4()}",
    )
    async with claim_last_initiation(stack_env) as (runner, service, _):
        sent = [command(request, principal) for _ in range(RACE_ROUNDS)]
        replies = await asyncio.gather(
            *(
                runner.run(
                    c.envelope.message_id,
                    Commands.INITIATE.name,
                    initiate_work(service, c),
                )
                for c in sent
            )
        )
    ids = {reply.unwrap(SessionView).upload_session_id for reply in replies}
    assert len(ids) == 1
    rows = await pool.fetchval(
        "SELECT count(*) FROM initiation.upload_sessions WHERE tenant_id = $1", principal.tenant_id
    )
    stored = await pool.fetch(
        "SELECT reply FROM initiation.inbox WHERE message_id = ANY($1::uuid[])",
        [c.envelope.message_id for c in sent],
    )
    assert rows == 1
    assert len(stored) == RACE_ROUNDS  # every command's reply is kept for its redelivery
    assert {
        Reply.model_validate(row["reply"]).unwrap(SessionView).upload_session_id for row in stored
    } == ids
