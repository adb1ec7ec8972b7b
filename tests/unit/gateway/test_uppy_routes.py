"""The S3-format routes `@uppy/aws-s3` is pointed at: each one command, S3's XML back, and
problem+json for every refusal. The services behind a fake command client; no server."""

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from intake_contracts.commands import CommandType, CompletionResult
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.sessions import (
    MultipartInfo,
    ResumeView,
    StatusView,
    UploadedPart,
    UploadStatus,
    UploadType,
)
from intake_gateway.app import create_app
from intake_gateway.settings import GatewaySettings
from tests.support import tokens
from tests.support.fakes.gateway import FakeGatewayOutbound
from tests.unit.gateway.test_routes import NOW, SESSION, TENANT, asset_view, session_view

S3 = "{http://s3.amazonaws.com/doc/2006-03-01/}"
BASE = f"/app/uppy/{SESSION}"


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[TestClient[Any], FakeGatewayOutbound]]:
    services = FakeGatewayOutbound()
    settings = GatewaySettings(INTAKE_ENV="local", INTAKE_RATE_LIMIT_PER_S=1000)
    with TestClient(create_app(settings, services)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {tokens.mint(TENANT, ['b'])}"
        yield test_client, services


@pytest.fixture
def client(shared: tuple[TestClient[Any], FakeGatewayOutbound]) -> TestClient[Any]:
    return shared[0]


@pytest.fixture
def services(shared: tuple[TestClient[Any], FakeGatewayOutbound]) -> FakeGatewayOutbound:
    services = shared[1]
    services.answers.clear()
    services.sent.clear()
    return services


def xml(answer: Any) -> ET.Element:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    return ET.fromstring(answer.content)  # noqa: S314 - our own answer


def problem_code(answer: Any, status: int) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    code: str = answer.json()["code"]
    return code


def test_create_names_the_upload_initiation_started_and_starts_nothing(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    services.answers[CommandType.GET_SESSION] = session_view(
        upload_type=UploadType.MULTIPART,
        direct=None,
        multipart=MultipartInfo(upload_id="s3-upload-7", chunk_size=8 << 20, part_count=5),
    )
    root = xml(client.post(f"{BASE}/multipart"))
    assert root.tag == f"{S3}InitiateMultipartUploadResult"
    assert root.findtext(f"{S3}UploadId") == "s3-upload-7"
    assert root.findtext(f"{S3}Key") == str(SESSION)
    assert [sent.command for sent in services.sent] == [CommandType.GET_SESSION]


def test_create_of_a_direct_session_is_a_conflict(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    services.answers[CommandType.GET_SESSION] = session_view()
    answer = client.post(f"{BASE}/multipart")
    assert problem_code(answer, 409) == ErrorCode.INVALID_SESSION_STATE.value


def test_list_parts_answers_every_part_resume_found(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    services.answers[CommandType.RESUME] = ResumeView(
        upload_session_id=SESSION,
        status=UploadStatus.UPLOADING,
        upload_type=UploadType.MULTIPART,
        can_resume=True,
        expires_at=NOW,
        chunk_size=8 << 20,
        part_count=5,
        multipart_upload_id="s3-upload-7",
        uploaded_parts=[
            UploadedPart(part_number=2, size=8 << 20, etag='"bb"'),
            UploadedPart(part_number=1, size=8 << 20, etag="aa"),
        ],
        uploaded_bytes=16 << 20,
    )
    root = xml(client.get(f"{BASE}/parts"))
    parts = [
        (part.findtext(f"{S3}PartNumber"), part.findtext(f"{S3}ETag"))
        for part in root.iter(f"{S3}Part")
    ]
    assert parts == [("1", '"aa"'), ("2", '"bb"')]
    assert root.findtext(f"{S3}IsTruncated") == "false"


def test_complete_sends_uppys_parts_to_completion_and_answers_s3s_result(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    asset = asset_view()
    services.answers[CommandType.COMPLETE] = CompletionResult(
        asset=asset, upload_session_id=SESSION, created=True
    )
    body = (
        "<CompleteMultipartUpload>"
        "<Part><PartNumber>1</PartNumber><ETag>aa</ETag></Part>"
        "<Part><PartNumber>2</PartNumber><ETag>bb</ETag></Part>"
        "</CompleteMultipartUpload>"
    )
    headers = {"Content-Type": "application/xml"}
    root = xml(client.post(f"{BASE}/complete", content=body, headers=headers))
    assert root.tag == f"{S3}CompleteMultipartUploadResult"
    assert root.findtext(f"{S3}Location", "").endswith(f"/app/uploads/{SESSION}")
    assert root.findtext(f"{S3}ETag") == f'"{asset.asset_id}"'
    sent = services.sent[0].payload.model_dump()
    assert sent["upload_session_id"] == SESSION
    assert sent["parts"] == [{"part_number": 1, "etag": "aa"}, {"part_number": 2, "etag": "bb"}]


@pytest.mark.parametrize(
    "body",
    [
        "not xml at all",
        "<Other><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Other>",
        "<CompleteMultipartUpload></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
    ],
)
def test_a_bad_complete_body_is_a_422_and_completes_nothing(
    client: TestClient[Any], services: FakeGatewayOutbound, body: str
) -> None:
    answer = client.post(f"{BASE}/complete", content=body)
    assert problem_code(answer, 422) == ErrorCode.VALIDATION_FAILED.value
    assert services.sent == []


def test_a_refused_complete_keeps_its_code(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    services.answers[CommandType.COMPLETE] = DomainError(ErrorCode.UPLOAD_INCOMPLETE, "missing")
    body = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>"
    body += "</CompleteMultipartUpload>"
    answer = client.post(f"{BASE}/complete", content=body)
    assert problem_code(answer, 422) == ErrorCode.UPLOAD_INCOMPLETE.value


def test_abort_is_cancel(client: TestClient[Any], services: FakeGatewayOutbound) -> None:
    services.answers[CommandType.CANCEL] = StatusView(
        upload_session_id=SESSION, status=UploadStatus.CANCELLED
    )
    answer = client.delete(BASE)
    assert answer.status_code == 204, answer.text
    assert [sent.command for sent in services.sent] == [CommandType.CANCEL]
    assert services.sent[0].key == SESSION


def test_without_a_token_nothing_is_sent(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    answer = client.get(f"{BASE}/parts", headers={"Authorization": ""})
    assert problem_code(answer, 401) == ErrorCode.UNAUTHENTICATED.value
    assert services.sent == []


def test_another_sessions_id_shape_is_refused_before_any_command(
    client: TestClient[Any], services: FakeGatewayOutbound
) -> None:
    answer = client.get(f"/app/uppy/{uuid.uuid4().hex[:5]}/parts")
    assert answer.status_code in {404, 422}
    assert services.sent == []


def test_the_routes_are_in_the_openapi_document(client: TestClient[Any]) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert set(paths["/app/uppy/{session_id}/complete"]["post"]["responses"]) >= {
        "200",
        "401",
        "422",
    }
    assert "delete" in paths["/app/uppy/{session_id}"]
