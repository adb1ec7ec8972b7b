"""Issue 15, third round: each change to the complete and part-URL paths measured on its own,
the old way and the new way in turns in one process against the running stack.

CPU per call is this process's (time.process_time) plus Postgres's and SeaweedFS's (from
/proc), the figure that holds on a machine other work is loading; the wall p50 is recorded
beside it. Each pair runs `--rounds` times, the two ways alternating, and the median round
is reported.

- s3_head: a HEAD through botocore (head_object) vs sent directly on a presigned URL;
- s3_delete: a DELETE (of a missing key) through botocore vs directly;
- small_promotion: the promotion's S3 calls for a 64 KiB object before (HEAD target, HEAD
  source, list the target's multipart uploads, CopyObject) vs now (CopyObject);
- subscriber: one command through FastStream's in-memory broker to a handler that takes the
  `KafkaMessage` annotation and the JSON-decoded body vs one that takes the message undecoded;
- record_asset: completion's Asset + asset.created + saga move in a transaction (BEGIN,
  insert, outbox, advance, COMMIT) vs in one statement (each call opens and claims its saga
  row first, the same on both sides);
- claim: completion's claim (BEGIN, tenant lock, open, count, claim, COMMIT) vs with open,
  count and claim in one statement;
- sign_parts_runner: initiation's part-URL work in a transaction vs a statement at a time;
- initiate_runner (fourth round): a direct initiate in a transaction (BEGIN, inbox claim,
  insert, reply + events + NOTIFY, COMMIT) vs claim-last (all of it in one statement).

    python -m bench.hot_paths [--rounds 7] [--calls 200] [--only initiate_runner,...] [--name F]
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from tests.support import stack
from tests.support.contracts import new_asset

from bench import cpu
from bench.common import drop_unrelayed_bench_events, write
from intake_completion.repo import PostgresSagaDatabase
from intake_completion.saga import Step
from intake_completion.settings import CompletionSettings
from intake_contracts.commands import Commands, InitiateUpload, SignParts
from intake_contracts.envelope import Envelope, Principal
from intake_contracts.events import AssetCreated, EventType
from intake_contracts.replies import Reply
from intake_contracts.sessions import SessionView
from intake_initiation import repo as initiation_repo
from intake_initiation.ports import Unit
from intake_initiation.service import InitiationService
from intake_initiation.settings import SCHEMA as INITIATION
from intake_initiation.settings import InitiationSettings
from intake_initiation.storage import S3SessionStorage
from intake_runtime.messaging.dispatch import Command
from intake_runtime.messaging.kafka import undecoded
from intake_runtime.postgres.outbox import Outbox
from intake_runtime.postgres.pool import create_pool
from intake_runtime.storage.s3 import ObjectNotFoundError, ObjectStore, open_object_store

Call = Callable[[], Awaitable[Any]]
PAIRS = (
    "s3_head",
    "s3_delete",
    "small_promotion",
    "subscriber",
    "record_asset",
    "claim",
    "sign_parts_runner",
    "initiate_runner",
)
SMALL = 64 * 1024


class Meter:
    def __init__(self) -> None:
        self.state = Path(os.environ.get("INTAKE_STATE_DIR", stack.ROOT / ".state")).resolve()
        self.pids: dict[str, list[int]] = {}

    def refresh(self) -> None:
        """Postgres forks a backend per connection: found again before each round."""
        found = cpu.stack_pids(self.state)
        self.pids = {"postgres": found["postgres"], "seaweedfs": found["seaweedfs"]}

    def read(self) -> dict[str, float]:
        return {**cpu.snapshot(self.pids), "bench process": time.process_time()}


async def one_round(meter: Meter, call: Call, calls: int) -> dict[str, float]:
    walls = []
    meter.refresh()
    before = meter.read()
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        walls.append((time.perf_counter() - started) * 1000)
    spent = cpu.per_operation_ms(before, meter.read(), calls)
    return {**spent, "wall_p50_ms": round(statistics.median(walls), 3)}


async def compare(
    meter: Meter, before: Call, after: Call, rounds: int, calls: int
) -> dict[str, Any]:
    """Both ways, alternating, `rounds` times; the round of median total CPU of each."""
    for call in (before, after):  # warm: connections, prepared statements, endpoints
        for _ in range(5):
            await call()
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for _ in range(rounds):
        runs["before"].append(await one_round(meter, before, calls))
        runs["after"].append(await one_round(meter, after, calls))
    return {
        name: sorted(found, key=lambda figures: figures["total"])[len(found) // 2]
        for name, found in runs.items()
    }


async def s3_paths(store: ObjectStore, bucket: str, meter: Meter, args: Any) -> dict[str, Any]:
    key = f"bench/hot-paths/{uuid.uuid4()}"
    await store._client.put_object(Bucket=bucket, Key=key, Body=os.urandom(SMALL))  # noqa: SLF001
    figures: dict[str, Any] = {}

    async def head_botocore() -> None:
        await store._head(bucket, key, checksums=False)  # noqa: SLF001

    async def head_direct() -> None:
        await store.head(bucket, key)

    figures["s3_head"] = await compare(meter, head_botocore, head_direct, args.rounds, args.calls)

    async def delete_botocore() -> None:
        await store._delete(bucket, f"{key}-missing")  # noqa: SLF001

    async def delete_direct() -> None:
        await store.delete(bucket, f"{key}-missing")

    figures["s3_delete"] = await compare(
        meter, delete_botocore, delete_direct, args.rounds, args.calls
    )
    target = f"{key}-copy"

    async def botocore_head_or_none(of: str) -> None:
        with contextlib.suppress(ObjectNotFoundError):
            await store._head(bucket, of, checksums=False)  # noqa: SLF001

    async def promotion_before() -> None:
        await botocore_head_or_none(target)
        await botocore_head_or_none(key)
        await store.abort_uploads_of(bucket, target)
        await store.copy(bucket, key, target, SMALL, 2**30)

    async def promotion_after() -> None:
        await store.copy(bucket, key, target, SMALL, 2**30)

    figures["small_promotion"] = await compare(
        meter, promotion_before, promotion_after, args.rounds, args.calls // 4
    )
    await store.delete(bucket, key)
    await store.delete(bucket, target)
    return figures


async def subscriber(meter: Meter, args: Any) -> dict[str, Any]:
    broker = KafkaBroker()
    body = Envelope(type="bench", correlation_id="c", payload={"a": "b" * 200}).model_dump_json()

    async def annotated(decoded: Any, message: KafkaMessage) -> None:
        assert message.body
        assert decoded

    async def taken_whole(message: Any) -> None:
        assert message.body

    broker.subscriber("before", group_id="g1", ack_policy=AckPolicy.MANUAL, no_reply=True)(
        annotated
    )
    broker.subscriber(
        "after", group_id="g2", ack_policy=AckPolicy.MANUAL, no_reply=True, decoder=undecoded
    )(taken_whole)
    async with TestKafkaBroker(broker) as test_broker:

        async def before() -> None:
            await test_broker.publish(
                body.encode(), "before", headers={"content-type": "application/json"}
            )

        async def after() -> None:
            await test_broker.publish(
                body.encode(), "after", headers={"content-type": "application/json"}
            )

        return await compare(meter, before, after, args.rounds, args.calls * 5)


async def saga_statements(meter: Meter, args: Any) -> dict[str, Any]:
    settings = CompletionSettings(INTAKE_ENV=os.environ.get("INTAKE_ENV", "local"))
    pool = await create_pool(settings)
    database = PostgresSagaDatabase(pool, Outbox("completion"))
    tenant = f"hot-paths-{uuid.uuid4().hex[:8]}"

    async def claimed() -> tuple[Any, uuid.UUID, AssetCreated]:
        asset = new_asset(tenant_id=tenant)
        owner = uuid.uuid4()
        await database.saga.open_attempt(asset.upload_session_id, tenant, asset.asset_id)
        await database.leases.claim(asset.upload_session_id, [Step.FINALIZING], owner, 60)
        return (
            asset,
            owner,
            AssetCreated(**asset.model_dump(include=set(AssetCreated.model_fields))),
        )

    # The set-up of each call (open and claim) is measured on both sides alike.
    async def in_a_transaction() -> None:
        asset, owner, event = await claimed()
        async with database.transaction() as tx:
            await tx.saga.insert_asset(asset)
            await tx.outbox.add(
                EventType.ASSET_CREATED, event, key="k", tenant_id=tenant, correlation_id="c"
            )
            await tx.saga.advance(asset.upload_session_id, Step.FINALIZING, owner, release=True)

    async def in_one_statement() -> None:
        asset, owner, event = await claimed()
        await database.record_asset(
            asset, event, owner, lease_s=60, correlation_id="c", principal=None
        )

    async def claim_before() -> None:
        asset, owner = new_asset(tenant_id=tenant), uuid.uuid4()
        async with database.transaction() as tx:
            await tx.saga.lock_tenant(tenant)
            await tx.saga.open_attempt(asset.upload_session_id, tenant, asset.asset_id)
            await tx.saga.running_in_tenant(tenant, asset.upload_session_id)
            await tx.leases.claim(asset.upload_session_id, [Step.FINALIZING], owner, 60)

    async def claim_after() -> None:
        asset, owner = new_asset(tenant_id=tenant), uuid.uuid4()
        async with database.transaction() as tx:
            await tx.saga.lock_tenant(tenant)
            await tx.saga.open_and_claim(asset.upload_session_id, tenant, asset.asset_id, owner, 60)

    try:
        return {
            "record_asset": await compare(
                meter, in_a_transaction, in_one_statement, args.rounds, args.calls
            ),
            "claim": await compare(meter, claim_before, claim_after, args.rounds, args.calls),
        }
    finally:
        for table in ("outbox", "assets", "completions"):
            column = "key" if table == "outbox" else "tenant_id"
            value = "k" if table == "outbox" else tenant
            await pool.execute(f"DELETE FROM completion.{table} WHERE {column} = $1", value)
        await pool.close()


async def initiation_runner(meter: Meter, args: Any) -> dict[str, Any]:
    settings = InitiationSettings(INTAKE_ENV=os.environ.get("INTAKE_ENV", "local"))
    principal = Principal(
        user_id="bench",
        tenant_id=f"hot-{uuid.uuid4().hex[:8]}",
        brand_ids=("b",),
        permissions=("assets.upload",),
    )
    pool = await create_pool(settings)
    runner = initiation_repo.transactions(pool, Outbox(INITIATION))

    def command(payload: Any) -> Command[Any]:
        envelope = Envelope(
            type="bench", correlation_id="c", tenant_id=principal.tenant_id, principal=principal
        )
        return Command(envelope, payload)

    try:
        async with open_object_store(settings) as store:
            service = InitiationService(settings, S3SessionStorage(store))
            big = InitiateUpload(
                file_name="b.bin",
                file_size=40 * 2**20,
                mime_type="application/octet-stream",
                brand_id="b",
            )

            async def initiate(tx: Unit) -> Reply:
                return Reply.success(await service.initiate(command(big), tx))

            opened = await runner.run(uuid.uuid4(), Commands.INITIATE.name, initiate)
            sign = SignParts(
                upload_session_id=opened.unwrap(SessionView).upload_session_id, part_numbers=[1]
            )

            async def work(tx: Unit) -> Reply:
                return Reply.success(await service.sign_parts(command(sign), tx))

            async def in_a_transaction() -> None:
                await runner.run(None, "bench.in_a_transaction", work)

            async def statement_at_a_time() -> None:
                await runner.run(None, Commands.SIGN_PARTS.name, work)

            small = InitiateUpload(
                file_name="s.bin",
                file_size=1000,
                mime_type="application/octet-stream",
                brand_id="b",
            )

            def initiating(runs_as: str | None) -> Call:
                """A fresh direct initiate, run as its own command type or as `runs_as`."""

                async def call() -> None:
                    sent = command(small)

                    async def work(tx: Unit) -> Reply:
                        return Reply.success(await service.initiate(sent, tx))

                    kind = runs_as or Commands.INITIATE.name
                    await runner.run(sent.envelope.message_id, kind, work)

                return call

            pairs = {
                "sign_parts_runner": (in_a_transaction, statement_at_a_time),
                "initiate_runner": (initiating("bench.in_a_transaction"), initiating(None)),
            }
            return {
                name: await compare(meter, before, after, args.rounds, args.calls)
                for name, (before, after) in pairs.items()
                if name in args.only
            }
    finally:
        await pool.close()


async def measure(args: Any) -> dict[str, Any]:
    meter = Meter()
    settings = CompletionSettings(INTAKE_ENV=os.environ.get("INTAKE_ENV", "local"))
    figures: dict[str, Any] = {}
    if {"s3_head", "s3_delete", "small_promotion"} & args.only:
        async with open_object_store(settings) as store:
            await store.ensure_bucket(settings.aws_bucket)
            figures |= await s3_paths(store, settings.aws_bucket, meter, args)
    if "subscriber" in args.only:
        figures["subscriber"] = await subscriber(meter, args)
    if {"record_asset", "claim"} & args.only:
        figures |= await saga_statements(meter, args)
    figures |= await initiation_runner(meter, args)
    await drop_unrelayed_bench_events(os.environ["DATABASE_URL"])
    figures["load_average"] = os.getloadavg()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--only", default=",".join(PAIRS), help="a subset, comma separated")
    parser.add_argument("--name", default="hot_paths", help="result file name")
    args = parser.parse_args()
    args.only = set(args.only.split(","))
    os.environ.update(stack.native_env())
    try:
        import uvloop

        figures = uvloop.run(measure(args))
    except ImportError:
        figures = asyncio.run(measure(args))
    print(write(args.name, figures))
    for name, pair in figures.items():
        print(name, pair)


if __name__ == "__main__":
    main()
