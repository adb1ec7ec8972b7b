"""The completion service's port to initiation, the only owner of a session's status."""

from typing import TypeVar
from uuid import UUID

from intake_contracts.commands import Commands, CommandSpec, MarkCompleted, SessionRef
from intake_contracts.envelope import Principal
from intake_contracts.errors import ErrorCode, TransientError
from intake_contracts.sessions import SessionRecord
from intake_runtime.messaging import requests
from intake_runtime.messaging.requests import (
    BrokerUnavailableError,
    ReplyTimeoutError,
    RequestReplyClient,
)

Req = TypeVar("Req", bound=SessionRef)


class KafkaOutboundCommands:
    """Request/reply to initiation; its refusals arrive as the DomainError it answered."""

    def __init__(self, client: RequestReplyClient) -> None:
        self._client = client

    async def begin_completion(self, session_id: UUID, principal: Principal) -> SessionRecord:
        """The session if it may be completed (or is already COMPLETED); else its refusal."""
        ref = SessionRef(upload_session_id=session_id)
        return await self._call(Commands.BEGIN_COMPLETION, ref, principal)

    async def mark_completed(
        self, session_id: UUID, asset_id: UUID, principal: Principal
    ) -> SessionRecord:
        """Compare-and-set UPLOADING → COMPLETED; a lost race raises initiation's conflict."""
        command = MarkCompleted(upload_session_id=session_id, asset_id=asset_id)
        return await self._call(Commands.MARK_COMPLETED, command, principal)

    async def _call(
        self, command: CommandSpec[Req, SessionRecord], payload: Req, principal: Principal
    ) -> SessionRecord:
        try:
            # Keyed by session: one session's commands stay in order on one partition.
            return await requests.call(
                self._client,
                command,
                payload,
                principal=principal,
                key=str(payload.upload_session_id),
            )
        except ReplyTimeoutError as error:
            # Nothing of ours is committed yet, so the client's retry is safe.
            raise TransientError(ErrorCode.SERVICE_TIMEOUT, str(error)) from error
        except BrokerUnavailableError as error:
            raise TransientError(ErrorCode.SERVICE_UNAVAILABLE, str(error)) from error
