"""The reply to a command: a result or an error, never both."""

from typing import Any, Final, TypeVar

from pydantic import BaseModel

from intake_contracts.errors import ErrorBody

REPLY_TYPE: Final = "reply"

M = TypeVar("M", bound=BaseModel)


class Reply(BaseModel):
    ok: bool
    result: dict[str, Any] | None = None
    error: ErrorBody | None = None

    @classmethod
    def success(cls, result: BaseModel) -> "Reply":
        return cls(ok=True, result=result.model_dump(mode="json"))

    @classmethod
    def failure(cls, error: ErrorBody) -> "Reply":
        return cls(ok=False, error=error)

    def unwrap(self, model: type[M]) -> M:
        """The typed result; else the carried error raised: a refusal as the DomainError it
        was, a dependency that was down or slow (a transient code) as a TransientError."""
        if self.error is not None:
            raise self.error.exception()
        return model.model_validate(self.result or {})
