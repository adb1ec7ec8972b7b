"""The gateway's problem mapping: every error answers problem+json with its stable code."""

import logging

import pytest
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import TestClient

from intake_contracts.errors import HTTP_STATUS, DomainError, ErrorBody, ErrorCode, TransientError
from intake_gateway import problems
from intake_runtime.messaging.requests import BrokerUnavailableError, ReplyTimeoutError

# INTAKE_RETRY_AFTER_S as configured: every 503 says it, whatever raised it.
RETRY_AFTER_S = 7
RAISED: dict[str, Exception] = {
    "refused": DomainError(ErrorCode.UPLOAD_CANCELLED, "upload session is CANCELLED"),
    # A service's reply that it is busy, as the command client raises it.
    "busy": ErrorBody(code=ErrorCode.SERVICE_UNAVAILABLE, detail="tenant at its cap").exception(),
    "down": TransientError(
        ErrorCode.STORAGE_UNAVAILABLE, "Could not connect to http://s3.internal.example:9000/"
    ),
    "slow": ReplyTimeoutError("no reply on intake.replies.gateway-7f3a"),
    "broker": BrokerUnavailableError(
        "KafkaConnectionError: Unable to bootstrap from [('kafka-0.internal.example', 9092)]"
    ),
    "bug": RuntimeError("boom"),
}


@get("/raise/{name:str}")
async def raising(name: FromPath[str]) -> None:
    raise RAISED[name]


@pytest.fixture
def client() -> TestClient[Litestar]:
    app = Litestar(
        [raising],
        exception_handlers={
            DomainError: problems.on_domain_error,
            TransientError: problems.on_transient_error(RETRY_AFTER_S),
            ReplyTimeoutError: problems.on_timeout(RETRY_AFTER_S),
            BrokerUnavailableError: problems.on_broker_down(RETRY_AFTER_S),
            Exception: problems.on_unexpected,
        },
    )
    return TestClient(app)


@pytest.mark.parametrize(
    ("name", "code", "retry_after"),
    [
        ("refused", ErrorCode.UPLOAD_CANCELLED, None),
        ("busy", ErrorCode.SERVICE_UNAVAILABLE, "7"),
        ("down", ErrorCode.STORAGE_UNAVAILABLE, "7"),
        # The soak found 504s without Retry-After: a client could not tell them from an error
        # a retry will not fix.
        ("slow", ErrorCode.SERVICE_TIMEOUT, "7"),
        ("broker", ErrorCode.SERVICE_UNAVAILABLE, "7"),
        ("bug", ErrorCode.INTERNAL_ERROR, None),
    ],
)
def test_each_error_answers_its_code_and_status(
    client: TestClient[Litestar], name: str, code: ErrorCode, retry_after: str | None
) -> None:
    with client:
        answer = client.get(f"/raise/{name}")
    assert answer.status_code == HTTP_STATUS[code]
    assert answer.headers["content-type"].startswith(problems.PROBLEM_JSON)
    body = answer.json()
    assert (body["code"], body["status"], body["instance"]) == (
        code.value,
        HTTP_STATUS[code],
        f"/raise/{name}",
    )
    assert answer.headers.get("retry-after") == retry_after


def test_an_unexpected_error_shows_no_internals(client: TestClient[Litestar]) -> None:
    with client:
        body = client.get("/raise/bug").json()
    assert "boom" not in body["detail"]


@pytest.mark.parametrize("name", ["down", "slow", "broker", "busy"])
def test_a_503_or_504_says_when_to_come_back_and_logs_the_internal_reason(
    client: TestClient[Litestar], name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with client, caplog.at_level(logging.INFO):
        body = client.get(f"/raise/{name}").json()
    internal = str(RAISED[name]).partition(": ")[2] or str(RAISED[name])
    assert "internal.example" not in body["detail"]
    assert "intake.replies" not in body["detail"]
    assert (
        body["detail"].endswith(f"retry after {RETRY_AFTER_S} s")
        or "retrying is safe" in body["detail"]
    )
    logged = " ".join(str(getattr(record, "error", "")) for record in caplog.records)
    assert internal.split(" ")[-1] in logged
