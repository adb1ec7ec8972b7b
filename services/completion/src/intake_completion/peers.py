"""The completion service's port to initiation, the only owner of a session's status."""

from uuid import UUID

from intake_contracts import topics
from intake_contracts.commands import CommandType, MarkCompleted, SessionRef
from intake_contracts.envelope import Principal
from intake_contracts.errors import ErrorCode, TransientError
from intake_contracts.sessions import SessionRecord
from intake_runtime.messaging.requests import (
    BrokerUnavailableError,
    ReplyTimeoutError,
    RequestReplyClient,
)


class Peers:
    """Request/reply to initiation; its refusals arrive as the DomainError it answered."""

    def __init__(self, client: RequestReplyClient) -> None:
        self._client = client

    async def begin_completion(self, session_id: UUID, principal: Principal) -> SessionRecord:
        """The session if it may be completed (or is already COMPLETED); else its refusal."""
        return await self._call(
            CommandType.BEGIN_COMPLETION, SessionRef(upload_session_id=session_id), principal
        )

    async def mark_completed(
        self, session_id: UUID, asset_id: UUID, principal: Principal
    ) -> SessionRecord:
        """Compare-and-set UPLOADING → COMPLETED; a lost race raises initiation's conflict."""
        command = MarkCompleted(upload_session_id=session_id, asset_id=asset_id)
        return await self._call(CommandType.MARK_COMPLETED, command, principal)

    async def _call(
        self, command_type: CommandType, payload: SessionRef, principal: Principal
    ) -> SessionRecord:
        try:
            # Keyed by session: one session's commands stay in order on one partition.
            reply = await self._client.request(
                topics.INITIATION_COMMANDS,
                command_type,
                payload,
                principal=principal,
                key=str(payload.upload_session_id),
            )
        except ReplyTimeoutError as error:
            # Nothing of ours is committed yet, so the client's retry is safe.
            raise TransientError(ErrorCode.SERVICE_TIMEOUT, str(error)) from error
        except BrokerUnavailableError as error:
            raise TransientError(ErrorCode.SERVICE_UNAVAILABLE, str(error)) from error
        return reply.unwrap(SessionRecord)
