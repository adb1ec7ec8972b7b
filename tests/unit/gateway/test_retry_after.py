"""Every 503 the gateway answers says when to come back with INTAKE_RETRY_AFTER_S."""

from litestar import Litestar, get
from litestar.testing import TestClient

from intake_contracts.errors import DomainError, ErrorCode, TransientError
from intake_gateway import problems


@get("/transient")
async def transient() -> None:
    raise TransientError(ErrorCode.STORAGE_UNAVAILABLE, "S3 is down")


@get("/refused-unavailable")
async def refused_unavailable() -> None:
    raise DomainError(ErrorCode.SERVICE_UNAVAILABLE, "tenant at its completion cap")


@get("/refused")
async def refused() -> None:
    raise DomainError(ErrorCode.UPLOAD_SESSION_NOT_FOUND, "no such session")


def app(retry_after_s: int) -> Litestar:
    return Litestar(
        route_handlers=[transient, refused_unavailable, refused],
        exception_handlers={
            DomainError: problems.on_domain_error(retry_after_s),
            TransientError: problems.on_transient_error(retry_after_s),
        },
    )


def test_the_configured_retry_after_goes_with_every_503() -> None:
    with TestClient(app(17)) as client:
        transient_answer = client.get("/transient")
        unavailable = client.get("/refused-unavailable")
        refused_answer = client.get("/refused")

    assert (transient_answer.status_code, transient_answer.headers["retry-after"]) == (503, "17")
    assert transient_answer.json()["code"] == "storage_unavailable"
    assert (unavailable.status_code, unavailable.headers["retry-after"]) == (503, "17")
    assert refused_answer.status_code == 404
    assert "retry-after" not in refused_answer.headers
