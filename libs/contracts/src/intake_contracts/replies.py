"""The reply to a command: a result or an error, never both."""

from typing import Any, Final, TypeVar

from pydantic import BaseModel

from intake_contracts.errors import DomainError, ErrorBody

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
        """The typed result, or the carried error raised as a DomainError."""
        if self.error is not None:
            raise DomainError(self.error.code, self.error.detail)
        return model.model_validate(self.result or {})
