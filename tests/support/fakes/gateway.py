"""The gateway's fake command client: answers what a test scripts."""

from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from pydantic import BaseModel

from intake_contracts.commands import (
    CommandSpec,
    CommandType,
)
from intake_contracts.envelope import Principal
from tests.support.fakes.runtime import BROKER_DOWN, NO_REPLY, raise_failure

Req = TypeVar("Req", bound=BaseModel)


Res = TypeVar("Res", bound=BaseModel)


@dataclass(frozen=True)
class Sent:
    command: CommandType
    payload: BaseModel
    principal: Principal
    key: UUID | None


class FakeGatewayOutbound:
    """The gateway's OutboundCommands: each command answers what `answers` holds for it (a
    result model, or an error raised as the real client raises that answer), every call is
    kept in `sent`; `stall()` and `cut_off()` make every call fail as the real client does."""

    def __init__(self) -> None:
        self.answers: dict[CommandType, BaseModel | BaseException] = {}
        self.sent: list[Sent] = []
        self._transport: BaseException | None = None

    def stall(self) -> None:
        self._transport = NO_REPLY

    def cut_off(self) -> None:
        self._transport = BROKER_DOWN

    async def call(
        self,
        command: CommandSpec[Req, Res],
        payload: Req,
        principal: Principal,
        *,
        key: UUID | None = None,
    ) -> Res:
        raise_failure(self._transport)
        self.sent.append(Sent(command.name, payload, principal, key))
        answer = self.answers.get(command.name)
        if answer is None:
            raise AssertionError(f"the test gave no answer to {command.name}")
        if isinstance(answer, BaseException):
            raise_failure(answer)
        assert isinstance(answer, BaseModel)
        return command.result.model_validate(answer.model_dump(mode="json"))
