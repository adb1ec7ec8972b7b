"""The gateway's command client: its contract suite. The gateway's fake answers what a test
scripts; the real services answer by themselves (the real adapter's `script` does nothing): the
suite holds the scripts to what the services say."""

import uuid
from collections.abc import Callable

import pytest
from pydantic import BaseModel

from intake_contracts.commands import (
    Commands,
    CommandType,
    InitiateUpload,
    SessionRef,
)
from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.sessions import (
    DirectUpload,
    SessionView,
    UploadStatus,
    UploadType,
)
from intake_gateway.ports import OutboundCommands
from intake_runtime.messaging.requests import BrokerUnavailableError, ReplyTimeoutError
from tests.support.contracts.common import NOW
from tests.support.contracts.outbound import MISSING, refusal

# The gateway's fake answers what a test scripts; the real services answer by themselves (the
# real adapter's `script` does nothing): the suite holds the scripts to what the services say.
Script = Callable[[CommandType, BaseModel | BaseException], None]


def session_view(**changes: object) -> SessionView:
    """A direct upload's view as initiation answers it (the gateway's fakes script it)."""
    return SessionView(
        upload_session_id=uuid.uuid4(),
        status=UploadStatus.UPLOADING,
        upload_type=UploadType.DIRECT,
        file_name="a.txt",
        file_size=5,
        mime_type="text/plain",
        brand_id="b",
        client_reference=None,
        batch_reference=None,
        expires_at=NOW,
        created_at=NOW,
        direct=DirectUpload(url="https://s3.test/put", headers={}, expires_at=NOW),
        multipart=None,
        asset_id=None,
    ).model_copy(update=changes)


def initiated_view(request: InitiateUpload) -> SessionView:
    """What initiation answers `request` (the fake's script)."""
    fields = ("file_name", "file_size", "mime_type", "brand_id")
    return session_view(**{name: getattr(request, name) for name in fields})


class GatewayOutboundContract:
    """What the gateway's routes rely on from any OutboundCommands. `owner` is a user of a tenant
    of its own."""

    async def test_a_command_answers_its_own_result_model(
        self, client: OutboundCommands, script: Script, owner: Principal
    ) -> None:
        request = InitiateUpload(
            file_name="a.txt", file_size=5, mime_type="text/plain", brand_id=owner.brand_ids[0]
        )
        script(CommandType.INITIATE, initiated_view(request))
        view = await client.call(Commands.INITIATE, request, owner)
        assert type(view) is SessionView
        assert (view.file_name, view.file_size, view.status, view.brand_id) == (
            "a.txt",
            5,
            UploadStatus.UPLOADING,
            owner.brand_ids[0],
        )

    async def test_a_refusal_is_the_domain_error_the_service_answered(
        self, client: OutboundCommands, script: Script, owner: Principal
    ) -> None:
        script(CommandType.GET_SESSION, DomainError(*MISSING))
        missing = SessionRef(upload_session_id=uuid.uuid4())
        assert await refusal(client.call(Commands.GET_SESSION, missing, owner)) == MISSING
        request = InitiateUpload(
            file_name="a.txt", file_size=5, mime_type="text/plain", brand_id="not-in-the-token"
        )
        script(CommandType.INITIATE, DomainError(ErrorCode.BRAND_NOT_ALLOWED, "not yours"))
        code, _ = await refusal(client.call(Commands.INITIATE, request, owner))
        assert code == ErrorCode.BRAND_NOT_ALLOWED

    async def test_no_reply_in_time_and_a_broker_that_does_not_take_it_are_told_apart(
        self, stalled: OutboundCommands, unreachable: OutboundCommands, owner: Principal
    ) -> None:
        ref = SessionRef(upload_session_id=uuid.uuid4())
        with pytest.raises(ReplyTimeoutError):
            await stalled.call(Commands.GET_SESSION, ref, owner)
        with pytest.raises(BrokerUnavailableError):
            await unreachable.call(Commands.GET_SESSION, ref, owner)
