"""Initiation's use cases through its real dispatcher, on in-memory ports: no server."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from pydantic import BaseModel

from intake_contracts.commands import (
    BatchFile,
    BatchResult,
    Commands,
    CommandSpec,
    FailSessions,
    InitiateBatch,
    InitiateUpload,
    MarkCompleted,
    MarkFailed,
    SessionOfTenant,
    SessionRef,
    SignParts,
)
from intake_contracts.envelope import Principal
from intake_contracts.errors import ErrorCode
from intake_contracts.events import EventType
from intake_contracts.replies import Reply
from intake_contracts.sessions import UploadedPart, UploadStatus
from intake_initiation.handlers import build_dispatcher
from intake_initiation.service import InitiationService
from intake_initiation.settings import InitiationSettings
from intake_runtime.messaging.envelopes import command_envelope, decode, encode
from tests.support.fakes.initiation import FakeSessionStorage, FakeTransactions
from tests.support.fakes.runtime import FakeClock

MiB = 1024 * 1024
USER = Principal(user_id="u", tenant_id="t1", brand_ids=("b",), permissions=("assets.upload",))
COMPLETION = USER.model_copy(update={"service": "completion"})


@dataclass
class World:
    transactions: FakeTransactions
    storage: FakeSessionStorage
    clock: FakeClock
    settings: InitiationSettings

    async def send(
        self,
        spec: CommandSpec[BaseModel, BaseModel],
        payload: BaseModel,
        principal: Principal = USER,
        message_id: uuid.UUID | None = None,
    ) -> Reply:
        service = InitiationService(self.settings, self.storage, self.clock)
        dispatcher = build_dispatcher(service, self.transactions)
        envelope = command_envelope(
            spec.name,
            payload,
            correlation_id="c",
            principal=principal,
            message_id=message_id,
        )
        dispatched = await dispatcher.dispatch(encode(envelope))
        return Reply.model_validate(decode(dispatched.reply).payload)

    def events(self) -> list[EventType]:
        return [emitted.event_type for emitted in self.transactions.outbox.events]


@pytest.fixture
def world() -> World:
    settings = InitiationSettings(INTAKE_ENV="local", INTAKE_SESSION_TTL_S=3600)
    return World(FakeTransactions(), FakeSessionStorage(), FakeClock(), settings)


def upload(size: int = 5, **extra: object) -> InitiateUpload:
    return InitiateUpload.model_validate(
        {"file_name": "a.txt", "file_size": size, "mime_type": "text/plain", "brand_id": "b"}
        | extra
    )


async def initiate(world: World, size: int = 5, **extra: object) -> uuid.UUID:
    reply = await world.send(Commands.INITIATE, upload(size, **extra))
    return Commands.INITIATE.result.model_validate(reply.result).upload_session_id


async def test_initiate_stores_uploading_session_with_expiry_from_the_clock(world: World) -> None:
    reply = await world.send(Commands.INITIATE, upload(20 * MiB))
    view = reply.unwrap(Commands.INITIATE.result)
    assert view.status == UploadStatus.UPLOADING
    assert view.expires_at == world.clock.now + timedelta(hours=1)
    assert view.multipart is not None
    assert view.multipart.part_count == 3

    assert world.events() == [EventType.UPLOAD_INITIATED, EventType.UPLOAD_UPLOADING]


async def test_a_sha256_upload_is_cut_into_at_most_5000_parts(world: World) -> None:
    """Its complete names every part's checksum (COMPOSITE), so fewer, larger parts."""
    size = 100 * 1024 * MiB
    sha256 = await world.send(Commands.INITIATE, upload(size, checksum_algorithm="SHA256"))
    crc32c = await world.send(Commands.INITIATE, upload(size, checksum_algorithm="CRC32C"))
    sha256_view = sha256.unwrap(Commands.INITIATE.result).multipart
    crc32c_view = crc32c.unwrap(Commands.INITIATE.result).multipart
    assert sha256_view is not None
    assert crc32c_view is not None
    assert 4_000 < sha256_view.part_count <= 5_000 < crc32c_view.part_count <= 10_000


async def test_a_redelivered_command_answers_its_first_reply_and_changes_nothing(
    world: World,
) -> None:
    message_id = uuid.uuid4()
    first = await world.send(Commands.INITIATE, upload(), message_id=message_id)
    again = await world.send(Commands.INITIATE, upload(), message_id=message_id)
    assert again == first
    assert len(world.transactions.sessions.rows) == 1
    assert len(world.events()) == 2


async def test_idempotency_key_replays_the_same_request_and_refuses_another(world: World) -> None:
    first = await initiate(world, idempotency_key="k")
    assert await initiate(world, idempotency_key="k") == first
    other = await world.send(Commands.INITIATE, upload(6, idempotency_key="k"))
    assert other.error is not None
    assert other.error.code == ErrorCode.IDEMPOTENCY_KEY_REUSED


async def test_a_refusal_changes_nothing(world: World) -> None:
    reply = await world.send(Commands.INITIATE, upload(brand_id="not-mine"))
    assert reply.error is not None
    assert reply.error.code == ErrorCode.BRAND_NOT_ALLOWED
    assert world.transactions.sessions.rows == {}
    assert world.events() == []


async def test_another_tenant_cannot_see_the_session(world: World) -> None:
    session_id = await initiate(world)
    stranger = USER.model_copy(update={"tenant_id": "t2"})
    reply = await world.send(
        Commands.GET_SESSION, SessionRef(upload_session_id=session_id), stranger
    )
    assert reply.error is not None
    assert reply.error.code == ErrorCode.UPLOAD_SESSION_NOT_FOUND


async def test_cancel_removes_the_residue_and_is_answered_even_when_storage_fails(
    world: World,
) -> None:
    kept = await initiate(world, 20 * MiB)
    world.storage.failing = True
    failing = await initiate(world, 20 * MiB)
    reply = await world.send(Commands.CANCEL, SessionRef(upload_session_id=failing))
    assert reply.unwrap(Commands.CANCEL.result).status == UploadStatus.CANCELLED
    world.storage.failing = False
    await world.send(Commands.CANCEL, SessionRef(upload_session_id=kept))
    assert world.storage.removed == [kept]


async def test_sign_parts_only_on_live_multipart_sessions(world: World) -> None:
    direct = await initiate(world)
    refused = await world.send(
        Commands.SIGN_PARTS, SignParts(upload_session_id=direct, part_numbers=[1])
    )
    assert refused.error is not None
    assert refused.error.code == ErrorCode.INVALID_SESSION_STATE
    multipart = await initiate(world, 20 * MiB)
    signed = await world.send(
        Commands.SIGN_PARTS, SignParts(upload_session_id=multipart, part_numbers=[3])
    )
    url = signed.unwrap(Commands.SIGN_PARTS.result).parts[0].url
    assert f"length={20 * MiB - 2 * 8 * MiB}" in url  # the last part holds what remains


async def test_an_expired_session_refuses_activity(world: World) -> None:
    session_id = await initiate(world)
    world.clock.advance(3600)
    reply = await world.send(Commands.TOUCH_ACTIVITY, SessionRef(upload_session_id=session_id))
    assert reply.error is not None
    assert reply.error.code == ErrorCode.UPLOAD_SESSION_EXPIRED


async def test_touch_records_the_clocks_instant(world: World) -> None:
    session_id = await initiate(world)
    world.clock.advance(60)
    reply = await world.send(Commands.TOUCH_ACTIVITY, SessionRef(upload_session_id=session_id))
    assert reply.unwrap(Commands.TOUCH_ACTIVITY.result).last_activity_at == world.clock.now


async def test_resume_lists_the_parts_already_uploaded(world: World) -> None:
    session_id = await initiate(world, 20 * MiB)
    upload_id = f"upload-{session_id}"
    world.storage.uploads[upload_id] = [UploadedPart(part_number=1, size=8 * MiB, etag="e")]
    reply = await world.send(Commands.RESUME, SessionRef(upload_session_id=session_id))
    view = reply.unwrap(Commands.RESUME.result)
    assert (view.can_resume, view.uploaded_bytes) == (True, 8 * MiB)


async def test_only_services_mark_sessions_completed_and_a_retry_is_answered_again(
    world: World,
) -> None:
    session_id = await initiate(world)
    mark = MarkCompleted(upload_session_id=session_id, asset_id=uuid.uuid4())
    refused = await world.send(Commands.MARK_COMPLETED, mark)
    assert refused.error is not None
    assert refused.error.code == ErrorCode.PERMISSION_DENIED
    first = await world.send(Commands.MARK_COMPLETED, mark, COMPLETION)
    retry = await world.send(Commands.MARK_COMPLETED, mark, COMPLETION)
    assert first.unwrap(Commands.MARK_COMPLETED.result).status == UploadStatus.COMPLETED
    assert retry == first
    cancel = await world.send(Commands.CANCEL, SessionRef(upload_session_id=session_id))
    assert cancel.unwrap(Commands.CANCEL.result).status == UploadStatus.COMPLETED


async def test_mark_failed_spares_a_session_touched_after_the_caller_looked(world: World) -> None:
    session_id = await initiate(world)
    looked = world.clock.now
    world.clock.advance(10)
    await world.send(Commands.TOUCH_ACTIVITY, SessionRef(upload_session_id=session_id))
    mark = MarkFailed(upload_session_id=session_id, reason="abandoned", idle_before=looked)
    reply = await world.send(Commands.MARK_FAILED, mark, COMPLETION)
    assert reply.unwrap(Commands.MARK_FAILED.result).status == UploadStatus.UPLOADING


async def test_fail_sessions_emits_one_failed_event_per_session_it_moved(world: World) -> None:
    live, also_live, cancelled = [await initiate(world) for _ in range(3)]
    await world.send(Commands.CANCEL, SessionRef(upload_session_id=cancelled))
    before = len(world.events())
    rows = [
        SessionOfTenant(upload_session_id=i, tenant_id="t1") for i in (live, also_live, cancelled)
    ]
    reply = await world.send(
        Commands.FAIL_SESSIONS, FailSessions(sessions=rows, reason="abandoned"), COMPLETION
    )
    assert sorted(reply.unwrap(Commands.FAIL_SESSIONS.result).moved) == sorted([live, also_live])
    emitted = world.transactions.outbox.events[before:]
    assert sorted((e.event_type, e.key, e.tenant_id) for e in emitted) == sorted(
        (EventType.UPLOAD_FAILED, str(session_id), "t1") for session_id in (live, also_live)
    )


async def test_a_batch_file_that_fails_is_undone_alone(world: World) -> None:
    files = [
        BatchFile(file_name="ok.txt", file_size=5, mime_type="text/plain", client_reference="a"),
        BatchFile(
            file_name="no.txt",
            file_size=5,
            mime_type="text/plain",
            client_reference="b",
            brand_id="not-mine",
        ),
    ]
    reply = await world.send(Commands.INITIATE_BATCH, InitiateBatch(brand_id="b", files=files))
    result = reply.unwrap(BatchResult)
    assert [item.error.code if item.error else None for item in result.uploads] == [
        None,
        ErrorCode.BRAND_NOT_ALLOWED,
    ]
    assert len(world.transactions.sessions.rows) == 1
    assert len(world.events()) == 2
