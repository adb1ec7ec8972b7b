"""The gateway's port to the services: one typed call per command, over Kafka request/reply."""

from typing import TypeVar
from uuid import UUID

from pydantic import BaseModel

from intake_contracts.commands import CommandSpec, CommandType
from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode
from intake_runtime.messaging import requests
from intake_runtime.messaging.requests import RequestReplyClient

Req = TypeVar("Req", bound=BaseModel)
Res = TypeVar("Res", bound=BaseModel)


# Changes of a session's state travel on the session's partition, one after another. Reads and
# signing change nothing that ordering protects, so they spread over every partition: one
# client signing hundreds of parts no longer queues behind itself on a single consumer.
_KEYED_BY_SESSION = frozenset(
    {CommandType.CANCEL, CommandType.COMPLETE, CommandType.TOUCH_ACTIVITY}
)


class KafkaOutboundCommands:
    def __init__(
        self, client: RequestReplyClient, timeouts: dict[CommandType, float] | None = None
    ) -> None:
        self._client = client
        self._timeouts = timeouts or {}  # commands whose deadline differs from the default

    async def call(
        self,
        command: CommandSpec[Req, Res],
        payload: Req,
        principal: Principal,
        *,
        key: UUID | None = None,
    ) -> Res:
        """The command's typed result; a refusal is raised as the DomainError it carries."""
        return await requests.call(
            self._client,
            command,
            payload,
            principal=principal,
            key=str(key) if key and command.name in _KEYED_BY_SESSION else None,
            timeout_s=self._timeouts.get(command.name),
        )


def parse_session_id(raw: str) -> UUID:
    """A malformed id names no session: it is answered exactly like a missing one."""
    try:
        return UUID(raw)
    except ValueError:
        raise DomainError(ErrorCode.UPLOAD_SESSION_NOT_FOUND, "upload session not found") from None
