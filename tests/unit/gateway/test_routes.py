"""The gateway's routes through Litestar's test client, the services behind a fake command
client: authentication, validation and every refusal as problem+json with its code, and each
route's mapping of bodies to commands and of replies to answers. No broker, no server."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import TestClient

from intake_contracts.commands import (
    AssetView,
    BatchItem,
    BatchResult,
    CommandType,
    CompletionResult,
    EventsView,
)
from intake_contracts.errors import DomainError, ErrorBody, ErrorCode, TransientError
from intake_contracts.sessions import (
    ActivityView,
    PartUrl,
    PartUrls,
    ResumeView,
    SessionView,
    StatusView,
    UploadStatus,
    UploadType,
)
from intake_gateway.app import create_app
from intake_gateway.settings import GatewaySettings
from intake_runtime.messaging.requests import BrokerUnavailableError, ReplyTimeoutError
from tests.support import tokens
from tests.support.contracts import gateway as gateway_contracts
from tests.support.fakes.gateway import FakeGatewayOutbound

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SESSION = uuid.UUID("6f1c1d2e-0000-4000-8000-000000000001")
TENANT = "t-routes"
PROBLEM = "application/problem+json"


def session_view(**changes: Any) -> SessionView:
    return gateway_contracts.session_view(**{"upload_session_id": SESSION, **changes})


def asset_view() -> AssetView:
    return AssetView(
        asset_id=uuid.uuid4(),
        upload_session_id=SESSION,
        tenant_id=TENANT,
        brand_id="b",
        title="a",
        file_name="a.txt",
        mime_type="text/plain",
        size_bytes=5,
        bucket="intake-uploads",
        object_key="temp/uploads/x/original",
        checksum_sha256=None,
        created_at=NOW,
    )


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[TestClient[Any], FakeGatewayOutbound]]:
    """One app for the module: building one (its OpenAPI document) takes most of a second."""
    services = FakeGatewayOutbound()
    settings = GatewaySettings(INTAKE_ENV="local", INTAKE_RATE_LIMIT_PER_S=1000)
    with TestClient(create_app(settings, services)) as test_client:
        yield test_client, services


@pytest.fixture
def services(shared: tuple[TestClient[Any], FakeGatewayOutbound]) -> FakeGatewayOutbound:
    _, services = shared
    services.answers.clear()
    services.sent.clear()
    return services


@pytest.fixture
def client(
    shared: tuple[TestClient[Any], FakeGatewayOutbound], services: FakeGatewayOutbound
) -> TestClient[Any]:
    test_client, _ = shared
    del services  # reset first
    test_client.headers["Authorization"] = f"Bearer {tokens.mint(TENANT, ['b'])}"
    return test_client


def assert_problem(answer: Any, status: int, code: ErrorCode) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = answer.json()
    assert (body["status"], body["code"]) == (status, code.value)
    return body


INITIATE = {"file_name": "a.txt", "file_size": 5, "mime_type": "text/plain", "brand_id": "b"}


# --- authentication and validation -----------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer nope", f"Bearer {tokens.mint(TENANT, ['b'], ttl_s=-60)}"],
)
def test_without_a_valid_token_nothing_is_sent(
    client: TestClient[Any], services: FakeGatewayOutbound, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    if authorization is None:
        del client.headers["Authorization"]
    answer = client.get(f"/app/uploads/{SESSION}", headers=headers)
    assert_problem(answer, 401, ErrorCode.UNAUTHENTICATED)
    assert services.sent == []


def test_a_token_without_the_upload_permission_is_forbidden(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    token = tokens.mint(TENANT, ["b"], permissions=("assets.read",))
    answer = client.get(f"/app/uploads/{SESSION}", headers={"Authorization": f"Bearer {token}"})
    assert_problem(answer, 403, ErrorCode.PERMISSION_DENIED)
    assert services.sent == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**INITIATE, "file_size": "big"}, ErrorCode.VALIDATION_FAILED),
        ({**INITIATE, "mime_type": 5}, ErrorCode.MIME_TYPE_INVALID),
        ({"file_name": "a.txt"}, ErrorCode.VALIDATION_FAILED),
    ],
)
def test_a_bad_body_is_a_problem_with_its_code_and_sends_nothing(
    client: TestClient[Any], services: FakeGatewayOutbound, body: dict[str, Any], code: ErrorCode
) -> None:
    answer = client.post("/app/uploads/initiate", json=body)
    assert answer.status_code in {400, 422}
    assert_problem(answer, answer.status_code, code)
    assert services.sent == []


def test_malformed_json_has_its_own_code(client: TestClient[Any]) -> None:
    answer = client.post(
        "/app/uploads/initiate",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.json()["code"] in {ErrorCode.MALFORMED_JSON.value, "validation_failed"}


def test_another_brand_is_refused_before_any_command(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    answer = client.post("/app/uploads/initiate", json={**INITIATE, "brand_id": "other"})
    assert_problem(answer, 403, ErrorCode.BRAND_NOT_ALLOWED)
    assert services.sent == []


def test_a_malformed_session_id_is_a_missing_session(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    assert_problem(client.get("/app/uploads/not-a-uuid"), 404, ErrorCode.UPLOAD_SESSION_NOT_FOUND)
    assert services.sent == []


def test_an_unknown_route_is_a_problem_too(client: TestClient[Any]) -> None:
    assert_problem(client.get("/app/nowhere"), 404, ErrorCode.ROUTE_NOT_FOUND)


# --- each route's mapping ----------------------------------------------------------------------


def test_initiate_sends_the_body_with_its_idempotency_key_and_answers_201(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    services.answers[CommandType.INITIATE] = session_view()
    answer = client.post("/app/uploads/initiate", json=INITIATE, headers={"Idempotency-Key": "k1"})
    assert answer.status_code == 201
    assert SessionView.model_validate(answer.json()) == session_view()
    [sent] = services.sent
    assert sent.payload.model_dump(include={"file_name", "idempotency_key"}) == {
        "file_name": "a.txt",
        "idempotency_key": "k1",
    }
    assert sent.principal.tenant_id == TENANT
    client.post("/app/uploads/initiate", json=INITIATE, headers={"Idempotency-Key": "  "})
    assert services.sent[1].payload.model_dump()["idempotency_key"] is None  # blank = none


def test_a_batch_answers_accepted_and_refused_files_side_by_side(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    services.answers[CommandType.INITIATE_BATCH] = BatchResult(
        batch_reference="batch-1",
        uploads=[
            BatchItem(client_reference="a", session=session_view(client_reference="a")),
            BatchItem(
                client_reference="b",
                error=ErrorBody(code=ErrorCode.FILE_TOO_LARGE, detail="too big"),
            ),
        ],
    )
    files = [
        {"file_name": "a.txt", "file_size": 5, "mime_type": "text/plain", "client_reference": r}
        for r in ("a", "b")
    ]
    answer = client.post("/app/uploads/initiate-batch", json={"brand_id": "b", "files": files})
    assert answer.status_code == 200
    body = answer.json()
    assert body["batch_reference"] == "batch-1"
    accepted, refused = body["uploads"]
    assert (accepted["client_reference"], accepted["upload_session_id"]) == ("a", str(SESSION))
    assert refused["client_reference"] == "b"
    assert refused["error"] == {"code": "file_too_large", "detail": "too big"}
    assert "upload_session_id" not in refused


@pytest.mark.parametrize(("created", "status"), [(True, 201), (False, 200)])
def test_complete_answers_201_when_it_created_the_asset_and_200_when_it_existed(
    client: TestClient[Any], services: FakeGatewayOutbound, created: bool, status: int
) -> None:
    asset = asset_view()
    services.answers[CommandType.COMPLETE] = CompletionResult(
        asset=asset, upload_session_id=SESSION, created=created
    )
    answer = client.post(
        "/app/assets/upload/complete", json={"upload_session_id": str(SESSION), "title": "T"}
    )
    assert answer.status_code == status
    assert answer.json()["status"] == "COMPLETED"
    assert answer.json()["asset"]["asset_id"] == str(asset.asset_id)
    [sent] = services.sent
    assert (sent.command, sent.key) == (CommandType.COMPLETE, SESSION)
    assert sent.payload.model_dump()["title"] == "T"


def test_signing_one_part_answers_that_part(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    part = PartUrl(part_number=3, url="https://s3.test/p3", expires_at=NOW)
    services.answers[CommandType.SIGN_PARTS] = PartUrls(parts=[part])
    answer = client.post(f"/app/uploads/{SESSION}/multipart-part-url", json={"part_number": 3})
    assert answer.status_code == 200
    assert PartUrl.model_validate(answer.json()) == part
    assert services.sent[0].payload.model_dump()["part_numbers"] == [3]


RESUME = ResumeView(
    upload_session_id=SESSION,
    status=UploadStatus.UPLOADING,
    upload_type=UploadType.DIRECT,
    can_resume=True,
    expires_at=NOW,
    chunk_size=None,
    part_count=None,
    multipart_upload_id=None,
    uploaded_parts=[],
    uploaded_bytes=0,
)


@pytest.mark.parametrize(
    ("method", "path", "answer"),
    [
        ("get", "", session_view()),
        ("get", "/resume", RESUME),
        (
            "put",
            "/activity",
            ActivityView(
                upload_session_id=SESSION, status=UploadStatus.UPLOADING, last_activity_at=NOW
            ),
        ),
        ("post", "/cancel", StatusView(upload_session_id=SESSION, status=UploadStatus.CANCELLED)),
    ],
)
def test_session_routes_send_their_command_keyed_by_the_session_and_answer_its_reply(
    client: TestClient[Any],
    services: FakeGatewayOutbound,
    method: str,
    path: str,
    answer: Any,
) -> None:
    command = {
        "": CommandType.GET_SESSION,
        "/resume": CommandType.RESUME,
        "/activity": CommandType.TOUCH_ACTIVITY,
        "/cancel": CommandType.CANCEL,
    }[path]
    services.answers[command] = answer
    reply = getattr(client, method)(f"/app/uploads/{SESSION}{path}")
    assert reply.status_code == 200, reply.text
    assert type(answer).model_validate(reply.json()) == answer
    [sent] = services.sent
    assert (sent.command, sent.key, sent.payload.model_dump()) == (
        command,
        SESSION,
        {"upload_session_id": SESSION},
    )


def test_the_events_are_read_only_after_the_session_is_found_in_the_tenant(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    services.answers[CommandType.GET_SESSION] = DomainError(
        ErrorCode.UPLOAD_SESSION_NOT_FOUND, "upload session not found"
    )
    services.answers[CommandType.GET_EVENTS] = EventsView(upload_session_id=SESSION, events=[])
    answer = client.get(f"/app/uploads/{SESSION}/events")
    assert_problem(answer, 404, ErrorCode.UPLOAD_SESSION_NOT_FOUND)
    assert [s.command for s in services.sent] == [CommandType.GET_SESSION]
    services.answers[CommandType.GET_SESSION] = session_view()
    assert client.get(f"/app/uploads/{SESSION}/events").json() == {
        "upload_session_id": str(SESSION),
        "events": [],
    }


# --- replies and errors as problems ------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "code", "retry_after"),
    [
        (
            DomainError(ErrorCode.UPLOAD_CANCELLED, "cancelled"),
            409,
            ErrorCode.UPLOAD_CANCELLED,
            False,
        ),
        (
            DomainError(ErrorCode.SERVICE_UNAVAILABLE, "cap"),
            503,
            ErrorCode.SERVICE_UNAVAILABLE,
            True,
        ),
        (
            TransientError(ErrorCode.STORAGE_UNAVAILABLE, "s3"),
            503,
            ErrorCode.STORAGE_UNAVAILABLE,
            True,
        ),
        (ReplyTimeoutError("slow"), 504, ErrorCode.SERVICE_TIMEOUT, True),
        (BrokerUnavailableError("down"), 503, ErrorCode.SERVICE_UNAVAILABLE, True),
        (RuntimeError("bug"), 500, ErrorCode.INTERNAL_ERROR, False),
    ],
)
def test_each_failure_of_a_service_is_a_problem_with_a_stable_code(
    client: TestClient[Any],
    services: FakeGatewayOutbound,
    error: BaseException,
    status: int,
    code: ErrorCode,
    retry_after: bool,
) -> None:
    services.answers[CommandType.CANCEL] = error
    answer = client.post(f"/app/uploads/{SESSION}/cancel")
    body = assert_problem(answer, status, code)
    assert body["instance"] == f"/app/uploads/{SESSION}/cancel"
    assert ("retry-after" in answer.headers) == retry_after
    if status == 500:
        assert "bug" not in body["detail"]  # internals stay in the log
