"""Each tenant's quota of open sessions and bytes in flight, against real Postgres and S3:
race-safe under concurrent initiates (claim-last and in a transaction), given back when a
session finishes, charged once per command however often it is delivered."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from intake_contracts.commands import (
    BatchFile,
    BatchResult,
    InitiateBatch,
    InitiateUpload,
    SessionRef,
)
from intake_contracts.envelope import Envelope, Principal
from intake_contracts.errors import ErrorCode
from intake_contracts.replies import Reply
from intake_contracts.sessions import SessionView, StatusView
from intake_initiation import repo
from intake_initiation.inbox import BoundTransactions, Transaction
from intake_initiation.ports import Unit
from intake_initiation.service import InitiationService
from intake_initiation.settings import SCHEMA
from intake_initiation.storage import S3SessionStorage
from intake_runtime.messaging.dispatch import Command
from intake_runtime.postgres.outbox import Outbox
from intake_runtime.storage.s3 import open_object_store
from tests.integration.test_initiation_service import pool, settings_for
from tests.support import tokens

pytestmark = pytest.mark.integration
__all__ = ["pool"]

MiB = 1024 * 1024
CONCURRENT = 16


def command(
    payload: Any, principal: Principal, message_id: uuid.UUID | None = None
) -> Command[Any]:
    envelope = Envelope(
        type="test", correlation_id="test", tenant_id=principal.tenant_id, principal=principal
    )
    if message_id is not None:
        envelope = envelope.model_copy(update={"message_id": message_id})
    return Command(envelope, payload)


def upload(size: int) -> InitiateUpload:
    return InitiateUpload(file_name="x.bin", file_size=size, mime_type="image/png", brand_id="b")


async def usage(pool: asyncpg.Pool, tenant_id: str) -> tuple[int, int]:
    row = await pool.fetchrow(
        "SELECT open_sessions, open_bytes FROM initiation.tenant_usage WHERE tenant_id = $1",
        tenant_id,
    )
    return (row["open_sessions"], row["open_bytes"]) if row else (0, 0)


async def live_sessions(pool: asyncpg.Pool, tenant_id: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM initiation.upload_sessions WHERE tenant_id = $1"
            " AND status IN ('INITIATING', 'UPLOADING')",
            tenant_id,
        )
    )


@pytest.fixture
async def quoted(
    stack_env: dict[str, str], pool: asyncpg.Pool
) -> AsyncIterator[tuple[InitiationService, BoundTransactions[Transaction, Unit]]]:
    settings = settings_for(stack_env)
    runner: Any = repo.transactions(pool, Outbox(SCHEMA), repo.Quota(3, 20 * MiB))
    async with open_object_store(settings) as store:
        yield InitiationService(settings, S3SessionStorage(store)), runner


async def initiate(
    service: InitiationService,
    runner: Any,
    request: InitiateUpload,
    principal: Principal,
    message_id: uuid.UUID | None = None,
) -> Reply:
    message_id = message_id or uuid.uuid4()

    async def work(tx: Unit) -> Reply:
        return Reply.success(await service.initiate(command(request, principal, message_id), tx))

    return await runner.run(message_id, "initiation.initiate", work)


async def test_concurrent_initiates_never_take_a_tenant_past_its_quota(
    pool: asyncpg.Pool, quoted: tuple[InitiationService, Any]
) -> None:
    service, runner = quoted
    principal = tokens.uploader()
    replies = await asyncio.gather(
        *(initiate(service, runner, upload(10), principal) for _ in range(CONCURRENT))
    )
    accepted = [reply for reply in replies if reply.ok]
    refused = [reply.error for reply in replies if not reply.ok]
    assert len(accepted) == 3
    assert {error.code for error in refused if error} == {ErrorCode.QUOTA_EXCEEDED}
    assert len(refused) == CONCURRENT - 3
    assert await live_sessions(pool, principal.tenant_id) == 3
    assert await usage(pool, principal.tenant_id) == (3, 30)
    other = tokens.uploader()  # another tenant's quota is its own
    assert (await initiate(service, runner, upload(10), other)).ok


async def test_declared_bytes_count_and_a_finished_session_gives_its_place_back(
    pool: asyncpg.Pool, quoted: tuple[InitiationService, Any]
) -> None:
    service, runner = quoted
    principal = tokens.uploader()
    big = (await initiate(service, runner, upload(12 * MiB), principal)).unwrap(SessionView)
    over = await initiate(service, runner, upload(9 * MiB), principal)
    assert over.error is not None
    assert over.error.code == ErrorCode.QUOTA_EXCEEDED
    assert "bytes" in over.error.detail
    assert await usage(pool, principal.tenant_id) == (1, 12 * MiB)

    async def cancel(tx: Unit) -> Reply:
        ref = SessionRef(upload_session_id=big.upload_session_id)
        return Reply.success(await service.cancel(command(ref, principal), tx))

    assert (await runner.run(uuid.uuid4(), "initiation.cancel", cancel)).unwrap(StatusView)
    assert await usage(pool, principal.tenant_id) == (0, 0)
    assert (await initiate(service, runner, upload(9 * MiB), principal)).ok


async def test_a_redelivered_initiate_is_charged_once(
    pool: asyncpg.Pool, quoted: tuple[InitiationService, Any]
) -> None:
    service, runner = quoted
    principal = tokens.uploader()
    message_id = uuid.uuid4()
    first = await initiate(service, runner, upload(10), principal, message_id)
    again = await initiate(service, runner, upload(10), principal, message_id)
    assert first.unwrap(SessionView) == again.unwrap(SessionView)
    assert await usage(pool, principal.tenant_id) == (1, 10)


async def test_a_batch_over_the_quota_refuses_only_the_files_beyond_it(
    pool: asyncpg.Pool, quoted: tuple[InitiationService, Any]
) -> None:
    service, runner = quoted
    principal = tokens.uploader()
    files = [
        BatchFile(
            file_name="x.bin", file_size=6 * MiB, mime_type="image/png", client_reference=f"r{i}"
        )
        for i in range(5)
    ]
    batch = InitiateBatch(brand_id="b", files=files)

    async def work(tx: Unit) -> Reply:
        return Reply.success(await service.initiate_batch(command(batch, principal), tx))

    result = (await runner.run(uuid.uuid4(), "initiation.initiate_batch", work)).unwrap(BatchResult)
    codes = [item.error.code if item.error else "ok" for item in result.uploads]
    assert codes == ["ok", "ok", "ok", ErrorCode.QUOTA_EXCEEDED, ErrorCode.QUOTA_EXCEEDED]
    assert await usage(pool, principal.tenant_id) == (3, 18 * MiB)
    assert await live_sessions(pool, principal.tenant_id) == 3
