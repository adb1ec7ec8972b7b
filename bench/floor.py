"""The floor under the control plane: the same Postgres and S3 work as an initiate and a part
URL, done directly in one process with no gateway and no Kafka in between."""

import os
import time
import uuid
from typing import Any

from bench.common import percentiles
from intake_contracts.commands import Commands, InitiateUpload, SignParts
from intake_contracts.envelope import Envelope, Principal
from intake_contracts.replies import Reply
from intake_contracts.sessions import SessionView
from intake_initiation import repo
from intake_initiation.ports import Unit
from intake_initiation.service import InitiationService
from intake_initiation.settings import SCHEMA, InitiationSettings
from intake_initiation.storage import S3SessionStorage
from intake_runtime.messaging.dispatch import Command
from intake_runtime.postgres.outbox import Outbox
from intake_runtime.postgres.pool import create_pool
from intake_runtime.storage.s3 import open_object_store


def _command(payload: Any, principal: Principal) -> Command[Any]:
    envelope = Envelope(
        type="bench", correlation_id="bench", tenant_id=principal.tenant_id, principal=principal
    )
    return Command(envelope, payload)


async def measure(rounds: int = 200) -> dict[str, Any]:
    # The benchmark measures the local stack: its development defaults, unless told otherwise.
    settings = InitiationSettings(INTAKE_ENV=os.environ.get("INTAKE_ENV", "local"))
    principal = Principal(
        user_id="bench",
        tenant_id=f"floor-{uuid.uuid4().hex[:8]}",
        brand_ids=("b",),
        permissions=("assets.upload",),
    )
    pool = await create_pool(settings)
    try:
        runner = repo.transactions(pool, Outbox(SCHEMA))
        async with open_object_store(settings) as store:
            service = InitiationService(settings, S3SessionStorage(store))
            request = InitiateUpload(
                file_name="b.bin",
                file_size=1000,
                mime_type="application/octet-stream",
                brand_id="b",
            )

            async def initiate(tx: Unit) -> Reply:
                return Reply.success(await service.initiate(_command(request, principal), tx))

            initiate_ms = []
            for _ in range(rounds):
                started = time.perf_counter()
                await runner.run(uuid.uuid4(), Commands.INITIATE.name, initiate)
                initiate_ms.append((time.perf_counter() - started) * 1000)

            big = InitiateUpload(
                file_name="b.bin",
                file_size=40 * 2**20,
                mime_type="application/octet-stream",
                brand_id="b",
            )

            async def initiate_big(tx: Unit) -> Reply:
                return Reply.success(await service.initiate(_command(big, principal), tx))

            opened = await runner.run(uuid.uuid4(), Commands.INITIATE.name, initiate_big)
            session = opened.unwrap(SessionView)
            sign = SignParts(upload_session_id=session.upload_session_id, part_numbers=[1])

            async def part_url(tx: Unit) -> Reply:
                return Reply.success(await service.sign_parts(_command(sign, principal), tx))

            part_ms = []
            for _ in range(rounds):
                started = time.perf_counter()
                # As the service runs it (repo.STATEMENT_AT_A_TIME): its command type says how.
                await runner.run(None, Commands.SIGN_PARTS.name, part_url)
                part_ms.append((time.perf_counter() - started) * 1000)
    finally:
        await pool.close()
    return {
        "initiate_direct_in_process": percentiles(initiate_ms),
        "part_url_in_process": percentiles(part_ms),
    }
