"""Problem answers a client is meant to retry say when: Retry-After on every 503 and 504."""

from intake_gateway import problems
from intake_runtime.messaging.requests import BrokerUnavailableError, ReplyTimeoutError


def test_a_service_timeout_is_a_504_with_retry_after() -> None:
    # Found by the soak: 504s came without the header, so a client could not tell them from
    # an error a retry will not fix.
    answer = problems.on_timeout(7)(None, ReplyTimeoutError("initiation did not answer"))  # type: ignore[arg-type]
    assert answer.status_code == 504
    assert answer.headers["Retry-After"] == "7"
    assert answer.content["code"] == "service_timeout"


def test_an_unreachable_broker_is_a_503_with_retry_after() -> None:
    answer = problems.on_broker_down(3)(None, BrokerUnavailableError("no broker"))  # type: ignore[arg-type]
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "3"
