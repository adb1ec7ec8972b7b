"""What the gateway's routes need from the world: the commands it sends to the services, one
typed call per command.

The real adapter is outbound.KafkaOutboundCommands (Kafka request/reply); the routes' unit tests
give `create_app` an in-memory one (tests/support/fakes/gateway.py: FakeGatewayOutbound).
"""

from typing import Protocol, TypeVar
from uuid import UUID

from pydantic import BaseModel

from intake_contracts.commands import CommandSpec
from intake_contracts.envelope import Principal

Req = TypeVar("Req", bound=BaseModel)
Res = TypeVar("Res", bound=BaseModel)


class OutboundCommands(Protocol):
    async def call(
        self,
        command: CommandSpec[Req, Res],
        payload: Req,
        principal: Principal,
        *,
        key: UUID | None = None,
    ) -> Res:
        """The command's typed result. A service's refusal is raised as the DomainError it
        carries, a service's answer that it was down or slow as a TransientError, no reply
        before the command's deadline as a ReplyTimeoutError, a broker that did not take the
        command as a BrokerUnavailableError."""
        ...
