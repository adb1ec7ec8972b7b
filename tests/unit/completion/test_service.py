"""The completion saga through its real dispatcher, on in-memory ports: no server.

Each step, a crash at each step and the resume after it, a lost compare-and-set, the tenant
cap, repeats, and promotion. A crash is the process dying: `Crash` is raised where the process
would end and the fakes' database is cut off (`leases.down`), so the dying worker releases
nothing and its lease must expire, as after a kill -9.
"""

import asyncio
import base64
import functools
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from intake_completion import saga
from intake_completion.domain import Asset, CheckedObject
from intake_completion.handlers import build_dispatcher
from intake_completion.promotion import Promoter, sweeping
from intake_completion.saga import Step
from intake_completion.service import CompletionService
from intake_completion.settings import (
    CRASH_AFTER_MARK_COMPLETED,
    CRASH_DURING_PROMOTION,
    CompletionSettings,
)
from intake_contracts import keys
from intake_contracts.commands import CommandType, CompleteUpload, CompletionResult
from intake_contracts.envelope import Principal
from intake_contracts.errors import ErrorCode
from intake_contracts.events import EventType
from intake_contracts.integrity import ChecksumAlgorithm
from intake_contracts.replies import Reply
from intake_contracts.sessions import SessionRecord, UploadStatus, UploadType
from intake_runtime.messaging.dispatch import AfterReply, run_now
from intake_runtime.messaging.envelopes import command_envelope, decode, encode
from tests.support.contracts.common import NOW
from tests.support.contracts.completion import new_record
from tests.support.fakes.completion import FakeSagaDatabase
from tests.support.fakes.completion_outbound import FakeCompletionOutbound
from tests.support.fakes.completion_storage import FakeCompletionStorage
from tests.support.fakes.runtime import FakeClock

MiB = 1024 * 1024
BUCKET = "intake-uploads"
LEASE_S = 60.0
USER = Principal(user_id="u", tenant_id="t1", brand_ids=("b",), permissions=("assets.upload",))


class Crash(BaseException):
    """The process ends here (os._exit in production): no except clause of the saga runs."""


@dataclass
class Starts:
    """The Promotions port: remembers what `complete` asked to promote, and the lease it
    handed over with it (the lease it kept and the Asset)."""

    sessions: list[uuid.UUID] = field(default_factory=list)
    leases: dict[uuid.UUID, saga.PromotionLease] = field(default_factory=dict)

    def start(
        self,
        session_id: uuid.UUID,
        correlation_id: str = "",  # noqa: ARG002
        lease: saga.PromotionLease | None = None,
    ) -> None:
        self.sessions.append(session_id)
        if lease is not None:
            self.leases[session_id] = lease


@dataclass
class World:
    clock: FakeClock
    db: FakeSagaDatabase
    storage: FakeCompletionStorage
    initiation: FakeCompletionOutbound
    starts: Starts
    settings: CompletionSettings

    def crash(self, _code: int = 1) -> None:
        self.db.leases.down = True
        raise Crash

    def restart(self) -> None:
        """A new process: the database reachable again, the old lease left to expire."""
        self.db.leases.down = False
        self.clock.advance(LEASE_S + 1)

    def service(self, **overrides: Any) -> CompletionService:
        settings = self.settings.model_copy(update=overrides)
        return CompletionService(
            settings,
            self.db,
            self.storage,
            self.initiation,
            self.starts,
            self.clock,
            crash=self.crash,
        )

    def promoter(self, **overrides: Any) -> Promoter:
        settings = self.settings.model_copy(update=overrides)
        return Promoter(settings, self.db, self.storage, crash=self.crash)

    async def complete(
        self,
        session_id: uuid.UUID,
        principal: Principal = USER,
        service: CompletionService | None = None,
        after_reply: AfterReply = run_now,
        **payload: Any,
    ) -> Reply:
        dispatcher = build_dispatcher(service or self.service())
        command = CompleteUpload(upload_session_id=session_id, **payload)
        envelope = command_envelope(
            CommandType.COMPLETE, command, correlation_id="c", principal=principal
        )
        dispatched = await dispatcher.dispatch(encode(envelope), after_reply=after_reply)
        return Reply.model_validate(decode(dispatched.reply).payload)

    def uploaded(
        self, data: bytes = b"hello", *, tenant_id: str = "t1", sha: bool = False
    ) -> uuid.UUID:
        """A direct upload's session at UPLOADING, its bytes at the temp key."""
        record = new_record(data, bucket=BUCKET)
        record = record.model_copy(
            update={
                "tenant_id": tenant_id,
                "checksum_sha256": hashlib.sha256(data).hexdigest() if sha else None,
            }
        )
        self.initiation.sessions[record.upload_session_id] = record
        self.storage.objects[BUCKET, record.temp_key] = data
        return record.upload_session_id

    async def crashed_at_mark_completed(self) -> uuid.UUID:
        """An uploaded session whose completion crashed as it told initiation so."""
        session_id = self.uploaded()
        self.initiation.broken["mark_completed"] = self.crash
        with pytest.raises(Crash):
            await self.complete(session_id)
        return session_id

    async def take_over(self, session_id: uuid.UUID, promoter: Promoter | None = None) -> None:
        """The promotion `complete` handed over, run as its start would have."""
        await (promoter or self.promoter()).take_over(self.starts.leases[session_id], "c")

    def step(self, session_id: uuid.UUID) -> Step | None:
        row = self.db.saga.rows.get(session_id)
        return row.attempt.step if row is not None else None

    def asset(self, session_id: uuid.UUID) -> Asset:
        return self.db.saga.assets[session_id]


@pytest.fixture
def world() -> World:
    clock = FakeClock(NOW)
    settings = CompletionSettings(
        INTAKE_ENV="local", INTAKE_COMPLETION_LEASE_S=LEASE_S, INTAKE_COMPLETION_TENANT_CAP=2
    )
    return World(
        clock,
        FakeSagaDatabase(clock),
        FakeCompletionStorage(),
        FakeCompletionOutbound(clock),
        Starts(),
        settings,
    )


def result(reply: Reply) -> CompletionResult:
    return reply.unwrap(CompletionResult)


def code(reply: Reply) -> ErrorCode:
    assert reply.error is not None, reply
    return reply.error.code


# --- the steps -------------------------------------------------------------------------------


async def test_complete_records_the_asset_at_the_temp_key_and_hands_over_to_promotion(
    world: World,
) -> None:
    session_id = world.uploaded()
    answer = result(await world.complete(session_id, title="My file"))
    assert answer.created
    assert answer.asset.object_key == keys.temp_key(session_id)
    assert answer.asset.title == "My file"
    assert answer.asset.promoted_at is None
    assert answer.asset.asset_id == keys.asset_id_for(session_id)
    assert world.initiation.sessions[session_id].status == UploadStatus.COMPLETED
    assert world.initiation.sessions[session_id].asset_id == answer.asset.asset_id
    assert world.step(session_id) == Step.PROMOTING
    # The finalizing lease is kept for promoting and handed over with the Asset.
    lease = world.starts.leases[session_id]
    assert world.db.saga.rows[session_id].attempt.lease_owner == lease.owner
    assert lease.asset == world.asset(session_id)
    assert session_id not in await world.db.saga.due(100)
    assert not await world.promoter().promote(session_id)  # nobody else claims it
    assert [e.key for e in world.db.created()] == [str(session_id)]
    assert world.starts.sessions == [session_id]


async def test_complete_starts_the_promotion_through_its_commands_after_reply(
    world: World,
) -> None:
    session_id, waiting = world.uploaded(), []
    result(await world.complete(session_id, after_reply=waiting.append))
    assert world.starts.sessions == []  # not before the reply is sent
    for start in waiting:
        start()
    assert world.starts.sessions == [session_id]
    assert world.starts.leases[session_id].asset == world.asset(session_id)


async def test_promotion_copies_to_the_permanent_key_then_drops_the_temp_object(
    world: World,
) -> None:
    session_id = world.uploaded()
    result(await world.complete(session_id))
    world.storage.calls.clear()
    await world.take_over(session_id)
    assert world.storage.calls == ["copy_to_permanent", "delete"]
    asset = world.asset(session_id)
    permanent = keys.asset_key(asset.tenant_id, asset.asset_id)
    assert (asset.object_key, asset.promoted_at is not None) == (permanent, True)
    assert world.storage.objects[BUCKET, permanent] == b"hello"
    assert (BUCKET, keys.temp_key(session_id)) not in world.storage.objects
    assert world.step(session_id) == Step.DONE
    [promoted] = world.db.promoted()
    assert promoted.event.model_dump()["previous_key"] == keys.temp_key(session_id)
    assert not await world.promoter().promote(session_id)  # nothing left to do


async def test_complete_records_the_checked_etag_and_promotion_copies_only_it(
    world: World,
) -> None:
    session_id = world.uploaded()
    answer = result(await world.complete(session_id))
    assert answer.asset.etag == hashlib.md5(b"hello", usedforsecurity=False).hexdigest()
    world.storage.objects[BUCKET, keys.temp_key(session_id)] = b"HELLO"  # a re-PUT since
    await world.take_over(session_id)
    asset = world.asset(session_id)
    permanent = keys.asset_key(asset.tenant_id, asset.asset_id)
    assert (BUCKET, permanent) not in world.storage.objects
    assert asset.integrity_failed_at is not None
    assert asset.promoted_at is None
    assert world.step(session_id) == Step.DONE  # never promoted, now or later
    assert world.db.promoted() == []
    [failed] = [
        e for e in world.db.outbox.events if e.event_type == EventType.ASSET_INTEGRITY_FAILED
    ]
    assert failed.event.model_dump()["expected_etag"] == answer.asset.etag
    assert (
        failed.event.model_dump()["found_etag"]
        == hashlib.md5(b"HELLO", usedforsecurity=False).hexdigest()
    )
    assert not await world.promoter().promote(session_id)
    again = result(await world.complete(session_id))
    assert again.asset.integrity_failed_at is not None


async def test_a_repeat_answers_the_same_asset_without_a_second_one(world: World) -> None:
    session_id = world.uploaded()
    first = result(await world.complete(session_id))
    again = result(await world.complete(session_id))
    assert (first.created, again.created) == (True, False)
    assert again.asset == first.asset
    assert len(world.db.created()) == 1
    assert world.starts.sessions == [session_id, session_id]  # a repeat nudges promotion
    assert list(world.starts.leases) == [session_id]  # the lease went to the first start only
    await world.take_over(session_id)
    promoted = result(await world.complete(session_id))
    assert promoted.asset.promoted_at is not None
    assert world.starts.sessions == [session_id, session_id]  # promoted: nothing to nudge
    assert len(world.db.promoted()) == 1


async def test_a_checksum_is_verified_against_the_bytes(world: World) -> None:
    good = world.uploaded(b"hello", sha=True)
    assert result(await world.complete(good)).created
    bad = world.uploaded(b"hello", sha=True)
    world.storage.objects[BUCKET, keys.temp_key(bad)] = b"jello"
    reply = await world.complete(bad)
    assert code(reply) == ErrorCode.CHECKSUM_MISMATCH
    assert world.initiation.sessions[bad].status == UploadStatus.UPLOADING
    # The refusal gave the lease back: fixing the bytes and retrying works at once.
    assert world.db.saga.rows[bad].attempt.lease_owner is None
    world.storage.objects[BUCKET, keys.temp_key(bad)] = b"hello"
    assert result(await world.complete(bad)).created


async def test_a_multipart_upload_is_completed_from_its_parts(world: World) -> None:
    record = new_record(b"", bucket=BUCKET).model_copy(
        update={
            "upload_type": UploadType.MULTIPART,
            "size_bytes": 6 * MiB,
            "chunk_size": 5 * MiB,
            "part_count": 2,
            "multipart_upload_id": "up-1",
            "tenant_id": "t1",
        }
    )
    world.initiation.sessions[record.upload_session_id] = record
    world.storage.uploads["up-1"] = {1: b"a" * 5 * MiB, 2: b"b" * MiB}
    answer = result(await world.complete(record.upload_session_id))
    assert answer.asset.size_bytes == 6 * MiB
    assert len(world.storage.objects[BUCKET, record.temp_key]) == 6 * MiB
    assert "up-1" not in world.storage.uploads


def sha256_multipart(world: World, parts: dict[int, bytes], *, declared: bool) -> uuid.UUID:
    """A SHA256 multipart session at UPLOADING whose parts are all uploaded."""
    whole = b"".join(parts[n] for n in sorted(parts))
    record = new_record(b"", bucket=BUCKET).model_copy(
        update={
            "upload_type": UploadType.MULTIPART,
            "size_bytes": len(whole),
            "chunk_size": len(parts[1]),
            "part_count": len(parts),
            "multipart_upload_id": f"up-{uuid.uuid4()}",
            "tenant_id": "t1",
            "checksum_algorithm": ChecksumAlgorithm.SHA256,
            "checksum": b64_sha256(whole) if declared else None,
        }
    )
    world.initiation.sessions[record.upload_session_id] = record
    world.storage.uploads[str(record.multipart_upload_id)] = dict(parts)
    return record.upload_session_id


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def completed_parts(parts: dict[int, bytes], *, checksums: bool = True) -> list[dict[str, Any]]:
    return [
        {
            "part_number": n,
            "etag": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            "checksum": b64_sha256(data) if checksums else None,
        }
        for n, data in sorted(parts.items())
    ]


@pytest.mark.parametrize("declared", [True, False], ids=["whole-file-declared", "none-declared"])
async def test_a_sha256_multipart_upload_completes_with_every_parts_checksum(
    world: World, declared: bool
) -> None:
    parts = {1: b"a" * 5 * MiB, 2: b"b" * MiB}
    session_id = sha256_multipart(world, parts, declared=declared)
    upload_id = str(world.initiation.sessions[session_id].multipart_upload_id)

    bare = await world.complete(session_id, parts=completed_parts(parts, checksums=False))
    assert code(bare) == ErrorCode.CHECKSUM_REQUIRED
    assert code(await world.complete(session_id)) == ErrorCode.CHECKSUM_REQUIRED
    assert upload_id in world.storage.uploads  # not consumed: a retry with them can complete
    assert world.initiation.sessions[session_id].status == UploadStatus.UPLOADING

    asset = result(await world.complete(session_id, parts=completed_parts(parts))).asset
    assert asset.checksum_algorithm == ChecksumAlgorithm.SHA256
    composite = b64_sha256(b"".join(hashlib.sha256(parts[n]).digest() for n in (1, 2)))
    whole = b64_sha256(parts[1] + parts[2])
    assert asset.checksum == (whole if declared else f"{composite}-2")


async def test_a_sha256_multipart_upload_whose_bytes_are_not_the_declared_file_is_refused(
    world: World,
) -> None:
    parts = {1: b"a" * 5 * MiB, 2: b"b" * MiB}
    session_id = sha256_multipart(world, parts, declared=True)
    record = world.initiation.sessions[session_id]
    world.initiation.sessions[session_id] = record.model_copy(
        update={"checksum": b64_sha256(b"another file")}
    )
    reply = await world.complete(session_id, parts=completed_parts(parts))
    assert code(reply) == ErrorCode.CHECKSUM_MISMATCH


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (UploadStatus.CANCELLED, ErrorCode.UPLOAD_CANCELLED),
        (UploadStatus.FAILED, ErrorCode.UPLOAD_FAILED),
        (UploadStatus.INITIATING, ErrorCode.INVALID_SESSION_STATE),
    ],
)
async def test_initiations_refusal_is_the_answer_and_nothing_is_recorded(
    world: World, status: UploadStatus, expected: ErrorCode
) -> None:
    session_id = world.uploaded()
    record = world.initiation.sessions[session_id]
    world.initiation.sessions[session_id] = record.model_copy(update={"status": status})
    assert code(await world.complete(session_id)) == expected
    assert world.db.saga.assets == {}
    assert world.db.outbox.events == []


async def test_missing_or_mis_sized_bytes_are_refused_and_the_session_stays_uploading(
    world: World,
) -> None:
    missing = world.uploaded()
    del world.storage.objects[BUCKET, keys.temp_key(missing)]
    assert code(await world.complete(missing)) == ErrorCode.UPLOAD_INCOMPLETE
    short = world.uploaded()
    world.storage.objects[BUCKET, keys.temp_key(short)] = b"hell"
    assert code(await world.complete(short)) == ErrorCode.SIZE_MISMATCH
    for session_id in (missing, short):
        assert world.initiation.sessions[session_id].status == UploadStatus.UPLOADING
    assert world.db.saga.assets == {}


async def test_another_tenant_or_brand_is_refused(world: World) -> None:
    session_id = world.uploaded()
    stranger = USER.model_copy(update={"tenant_id": "t2"})
    assert code(await world.complete(session_id, stranger)) == ErrorCode.UPLOAD_SESSION_NOT_FOUND
    result(await world.complete(session_id))
    # Once the Asset exists, the saga row answers for its tenant before initiation is asked.
    assert code(await world.complete(session_id, stranger)) == ErrorCode.UPLOAD_SESSION_NOT_FOUND
    other_brand = USER.model_copy(update={"brand_ids": ("x",)})
    assert code(await world.complete(session_id, other_brand)) == ErrorCode.BRAND_NOT_ALLOWED


# --- a crash at each step, and the resume --------------------------------------------------


async def test_a_crash_between_the_s3_finalize_and_initiations_completed_resumes(
    world: World,
) -> None:
    session_id = await world.crashed_at_mark_completed()
    world.restart()
    assert world.initiation.sessions[session_id].status == UploadStatus.UPLOADING
    assert result(await world.complete(session_id)).created
    assert world.initiation.sessions[session_id].status == UploadStatus.COMPLETED
    assert len(world.db.created()) == 1


async def test_a_crash_after_initiations_completed_resumes_without_finalizing_again(
    world: World,
) -> None:
    session_id = world.uploaded()
    crashing = world.service(fault=CRASH_AFTER_MARK_COMPLETED)
    with pytest.raises(Crash):
        await world.complete(session_id, service=crashing)
    assert world.initiation.sessions[session_id].status == UploadStatus.COMPLETED
    assert world.db.saga.assets == {}
    world.restart()
    world.storage.calls.clear()
    answer = result(await world.complete(session_id))
    assert answer.created
    assert "finalize" not in world.storage.calls  # COMPLETED: the bytes are final already
    assert world.step(session_id) == Step.PROMOTING


async def test_a_retry_while_the_crashed_workers_lease_is_live_waits_then_times_out(
    world: World,
) -> None:
    session_id = await world.crashed_at_mark_completed()
    world.db.leases.down = False  # a new process at once: the dead one's lease still runs
    impatient = world.service(session_lock_timeout_s=0.1)
    assert code(await world.complete(session_id, service=impatient)) == ErrorCode.SERVICE_TIMEOUT
    world.clock.advance(LEASE_S + 1)
    assert result(await world.complete(session_id, service=impatient)).created


async def test_a_crash_before_promotion_started_is_found_by_the_sweep(world: World) -> None:
    session_id = world.uploaded()
    result(await world.complete(session_id))
    # The process died before its promotion started: only the saga row remembers, once the lease it
    # kept for the promoter has expired.
    assert session_id not in await world.db.saga.due(100)
    world.restart()
    assert session_id in await world.db.saga.due(100)
    assert await world.promoter().promote(session_id)
    assert world.step(session_id) == Step.DONE
    assert session_id not in await world.db.saga.due(100)


async def test_a_crash_during_promotion_converges_with_one_promoted_event(world: World) -> None:
    session_id = world.uploaded()
    result(await world.complete(session_id))
    with pytest.raises(Crash):
        await world.take_over(session_id, world.promoter(fault=CRASH_DURING_PROMOTION))
    asset = world.asset(session_id)
    assert asset.promoted_at is None  # the copy landed, the Asset does not name it yet
    assert (BUCKET, keys.asset_key(asset.tenant_id, asset.asset_id)) in world.storage.objects
    world.db.leases.down = False  # another replica, at once: the dead worker's lease holds
    assert not await world.promoter().promote(session_id)
    world.restart()
    assert session_id in await world.db.saga.due(100)
    assert await world.promoter().promote(session_id)
    assert world.asset(session_id).promoted_at is not None
    assert len(world.db.promoted()) == 1
    assert world.step(session_id) == Step.DONE


async def test_a_crash_before_the_temp_object_is_dropped_resumes_at_releasing(
    world: World,
) -> None:
    session_id = world.uploaded()
    result(await world.complete(session_id))
    world.storage.broken["delete"] = world.crash
    with pytest.raises(Crash):
        await world.take_over(session_id)
    assert world.step(session_id) == Step.RELEASING
    world.restart()
    world.storage.calls.clear()
    assert await world.promoter().promote(session_id)
    assert world.storage.calls == ["delete"]  # no second copy
    assert (BUCKET, keys.temp_key(session_id)) not in world.storage.objects
    assert len(world.db.promoted()) == 1


async def test_a_failed_promotion_is_retried_by_the_sweep_after_a_doubling_back_off(
    world: World,
) -> None:
    session_id = world.uploaded()
    result(await world.complete(session_id))
    promoter = world.promoter(promotion_sweep_s=10.0, promotion_backoff_max_s=300.0)
    waits = []
    for attempt in range(3):
        world.storage.broken["copy_to_permanent"] = OSError("S3 down")
        # The promotion `complete` handed over first, then the sweep's claims.
        step: Callable[[], Awaitable[object]] = (
            functools.partial(world.take_over, session_id, promoter)
            if attempt == 0
            else functools.partial(promoter.promote, session_id)
        )
        with pytest.raises(OSError, match="S3 down"):
            await step()
        row = world.db.saga.rows[session_id]
        assert (row.attempt.step, row.attempt.lease_owner) == (Step.PROMOTING, None)
        assert row.last_error == "OSError: S3 down"
        assert session_id not in await world.db.saga.due(100)
        assert not await promoter.promote(session_id)  # nobody claims it before its time
        assert row.attempt.lease_until is not None
        waits.append((row.attempt.lease_until - world.clock.now).total_seconds())
        world.clock.advance(waits[-1])
        assert session_id in await world.db.saga.due(100)
    # finalizing took try 1 and handed its lease on (no claim: the first wait is the
    # shortest); each failed promotion waited twice as long as the one before
    assert waits == [10.0, 20.0, 40.0]
    assert await promoter.promote(session_id)
    assert world.step(session_id) == Step.DONE


# --- races -------------------------------------------------------------------------------------


class Meanwhile(FakeCompletionStorage):
    """Storage that lets another worker run in the middle of an operation, once."""

    def __init__(self) -> None:
        super().__init__()
        self.during: dict[str, Callable[[], Awaitable[None]]] = {}

    async def _meanwhile(self, operation: str) -> None:
        other = self.during.pop(operation, None)
        if other is not None:
            await other()

    async def finalize(self, session: SessionRecord, parts: Any) -> CheckedObject:
        checked = await super().finalize(session, parts)
        await self._meanwhile("finalize")
        return checked

    async def copy_to_permanent(self, asset: Asset, target: str) -> None:
        await super().copy_to_permanent(asset, target)
        await self._meanwhile("copy_to_permanent")


@pytest.fixture
def racing(world: World) -> World:
    storage = Meanwhile()
    storage.objects = world.storage.objects
    world.storage = storage
    return world


async def test_a_worker_whose_lease_lapsed_loses_the_asset_insert_and_answers_the_winners(
    racing: World,
) -> None:
    session_id = racing.uploaded()
    other: list[Reply] = []

    async def take_over() -> None:
        racing.clock.advance(LEASE_S + 1)  # the slow worker's lease lapses meanwhile
        other.append(await racing.complete(session_id))

    assert isinstance(racing.storage, Meanwhile)
    racing.storage.during["finalize"] = take_over
    slow = result(await racing.complete(session_id))
    winner = result(other[0])
    assert (winner.created, slow.created) == (True, False)
    assert slow.asset == winner.asset
    assert len(racing.db.created()) == 1
    assert racing.step(session_id) == Step.PROMOTING
    # The loser gave back no lease: the winner's, handed to its promoter, still holds.
    winners = racing.starts.leases[session_id].owner
    assert racing.db.saga.rows[session_id].attempt.lease_owner == winners


async def test_a_promoter_whose_lease_lapsed_loses_the_step_and_emits_nothing(
    racing: World,
) -> None:
    session_id = racing.uploaded()
    result(await racing.complete(session_id))

    async def take_over() -> None:
        racing.clock.advance(LEASE_S + 1)
        assert await racing.promoter().promote(session_id)

    assert isinstance(racing.storage, Meanwhile)
    racing.storage.during["copy_to_permanent"] = take_over
    with pytest.raises(saga.StepConflictError):
        await racing.take_over(session_id)
    assert len(racing.db.promoted()) == 1
    assert racing.step(session_id) == Step.DONE


async def test_the_tenant_cap_refuses_one_more_finalization_and_keeps_nothing_of_it(
    racing: World,
) -> None:
    first, second = racing.uploaded(), racing.uploaded()
    refused: list[Reply] = []
    capped = racing.service(tenant_cap=1)

    async def one_more() -> None:
        refused.append(await racing.complete(second, service=capped))

    assert isinstance(racing.storage, Meanwhile)
    racing.storage.during["finalize"] = one_more
    assert result(await racing.complete(first, service=capped)).created
    assert code(refused[0]) == ErrorCode.SERVICE_UNAVAILABLE
    assert racing.db.saga.rows.get(second) is None  # the claim rolled back with its row
    other_tenant = racing.uploaded(tenant_id="t2")
    stranger = USER.model_copy(update={"tenant_id": "t2"})
    racing.storage.during["finalize"] = one_more
    refused.clear()
    assert result(await racing.complete(other_tenant, stranger, service=capped)).created
    assert result(refused[0]).created  # the first tenant's own finished: room again


# --- the promoter in the background --------------------------------------------------------------


async def until_done(world: World, session_id: uuid.UUID) -> None:
    """Yield to the promoter's tasks until the saga is done (bounded: never hangs a test),
    the fake clock moving with them so that a back-off ends."""
    for _ in range(500):
        if world.step(session_id) == Step.DONE:
            return
        await asyncio.sleep(0.01)
        world.clock.advance(1)


async def test_a_started_promotion_runs_in_the_background_once_however_often_it_is_started(
    world: World,
) -> None:
    session_id = world.uploaded()
    result(await world.complete(session_id))
    promoter = world.promoter()
    promoter.start(session_id, "c", world.starts.leases[session_id])
    promoter.start(session_id, "c")  # running already in this process: not started twice
    await until_done(world, session_id)
    await promoter.close()
    assert world.step(session_id) == Step.DONE
    assert world.storage.calls.count("copy_to_permanent") == 1


async def test_a_background_failure_is_logged_and_the_sweep_retries_it(world: World) -> None:
    session_id = world.uploaded()
    result(await world.complete(session_id))
    world.storage.broken["copy_to_permanent"] = OSError("S3 down")
    promoter = world.promoter(promotion_sweep_s=0.01)
    async with sweeping(promoter):
        promoter.start(session_id, "c", world.starts.leases[session_id])
        await until_done(world, session_id)
    assert world.step(session_id) == Step.DONE
    assert world.storage.calls.count("copy_to_permanent") == 2
    assert len(world.db.promoted()) == 1
