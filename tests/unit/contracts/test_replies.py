"""A reply's error as every caller raises it: a refusal as the DomainError it was, a
dependency that was down or slow as a TransientError (a retry may succeed)."""

import pytest

from intake_contracts.errors import (
    TRANSIENT_CODES,
    CodedError,
    DomainError,
    ErrorBody,
    ErrorCode,
    TransientError,
)
from intake_contracts.replies import Reply
from intake_contracts.sessions import StatusView


@pytest.mark.parametrize("code", list(ErrorCode))
def test_a_failed_reply_raises_its_code_as_refusal_or_transient_error(code: ErrorCode) -> None:
    reply = Reply.failure(ErrorBody(code=code, detail="why"))
    with pytest.raises(CodedError) as raised:
        reply.unwrap(StatusView)
    assert (raised.value.code, raised.value.detail) == (code, "why")
    expected = TransientError if code in TRANSIENT_CODES else DomainError
    assert type(raised.value) is expected


def test_the_transient_codes_are_those_answered_503_or_504() -> None:
    assert {code for code in ErrorCode if ErrorBody(code=code, detail="").status in {503, 504}} == (
        TRANSIENT_CODES
    )
