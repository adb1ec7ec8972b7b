"""Audit's use cases through its real dispatcher, on its in-memory events: no server."""

import uuid

from intake_audit.handlers import build_dispatcher
from intake_audit.service import AuditService
from intake_contracts import topics
from intake_contracts.commands import Commands, SessionRef
from intake_contracts.envelope import Envelope, Principal
from intake_contracts.errors import ErrorCode
from intake_contracts.replies import Reply
from intake_runtime.messaging.envelopes import command_envelope, decode, encode
from intake_runtime.messaging.events import ReceivedEvent
from tests.support.fakes.audit import FakeEvents

USER = Principal(user_id="u", tenant_id="t1", brand_ids=("b",))


def event(session_id: uuid.UUID, tenant_id: str = "t1") -> ReceivedEvent:
    envelope = Envelope(
        type="upload.initiated",
        correlation_id="c",
        tenant_id=tenant_id,
        payload={"upload_session_id": str(session_id)},
    )
    return (topics.UPLOAD_EVENTS, envelope)


async def events_of(service: AuditService, session_id: uuid.UUID, principal: Principal) -> Reply:
    envelope = command_envelope(
        Commands.GET_EVENTS.name,
        SessionRef(upload_session_id=session_id),
        correlation_id="c",
        principal=principal,
    )
    dispatched = await build_dispatcher(service).dispatch(encode(envelope))
    return Reply.model_validate(decode(dispatched.reply).payload)


async def test_a_redelivered_batch_records_nothing_twice() -> None:
    service = AuditService(FakeEvents())
    session_id = uuid.uuid4()
    batch = [event(session_id), event(session_id)]
    assert await service.record_batch(batch) == 2
    assert await service.record_batch(batch) == 0


async def test_the_events_show_only_the_callers_tenant() -> None:
    service = AuditService(FakeEvents())
    session_id = uuid.uuid4()
    await service.record_batch([event(session_id), event(session_id, tenant_id="t2")])
    mine = (await events_of(service, session_id, USER)).unwrap(Commands.GET_EVENTS.result)
    assert [entry.type for entry in mine.events] == ["upload.initiated"]


async def test_a_query_without_principal_is_refused() -> None:
    envelope = command_envelope(
        Commands.GET_EVENTS.name,
        SessionRef(upload_session_id=uuid.uuid4()),
        correlation_id="c",
        principal=None,
    )
    dispatched = await build_dispatcher(AuditService(FakeEvents())).dispatch(encode(envelope))
    reply = Reply.model_validate(decode(dispatched.reply).payload)
    assert reply.error is not None
    assert reply.error.code == ErrorCode.UNAUTHENTICATED
