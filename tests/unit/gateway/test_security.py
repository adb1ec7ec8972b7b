"""The gateway in production as a browser sees it: no /schema pages (their renderers come from
CDNs), the page told that `#token=` is refused, and its CSP naming the storage origins."""

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from pydantic import ValidationError

from intake_gateway.app import create_app
from intake_gateway.settings import GatewaySettings
from intake_gateway.web import BUNDLE_DIR
from tests.support.fakes.gateway import FakeGatewayOutbound

STORAGE = "https://uploads.example.com,https://*.s3.example.net"


def production(**extra: str) -> GatewaySettings:
    return GatewaySettings(
        INTAKE_ENV="production",
        INTAKE_JWT_SECRET="a-production-secret-of-more-than-32-bytes",
        INTAKE_JWT_ISSUER="https://id.example.com",
        INTAKE_JWT_AUDIENCE="intake",
        **extra,
    )


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Any]]:
    if not (BUNDLE_DIR / "index.html").is_file():
        pytest.fail("the upload page is not built: run `make bootstrap`")
    app = create_app(production(INTAKE_STORAGE_ORIGINS=STORAGE), FakeGatewayOutbound())
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize("page", ["/schema/swagger", "/schema/redoc", "/schema/elements"])
def test_the_schema_pages_are_off_in_production(client: TestClient[Any], page: str) -> None:
    assert client.get(page).status_code == 404


def test_the_document_itself_is_still_served(client: TestClient[Any]) -> None:
    document = client.get("/schema/openapi.json")
    assert document.status_code == 200
    assert "/app/uploads/initiate" in document.json()["paths"]
    assert document.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_page_is_told_fragment_tokens_are_refused(client: TestClient[Any]) -> None:
    page = client.get("/")
    assert '<meta name="intake-fragment-tokens" content="refused" />' in page.text
    policy = page.headers["content-security-policy"]
    assert "connect-src 'self' https://uploads.example.com https://*.s3.example.net;" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"


def test_storage_origins_default_to_the_endpoint_or_aws() -> None:
    local = GatewaySettings(INTAKE_ENV="local", AWS_ENDPOINT_URL="http://127.0.0.1:18333/")
    assert local.storage_origin_list == ["http://127.0.0.1:18333"]
    assert local.fragment_tokens_allowed
    assert production().storage_origin_list == ["https://*.amazonaws.com"]
    assert not production().fragment_tokens_allowed
    assert production(INTAKE_FRAGMENT_TOKENS="allowed").fragment_tokens_allowed


@pytest.mark.parametrize(
    "origins", ["https://a.example.com; script-src *", "uploads.example.com", "https://a/b"]
)
def test_a_storage_origin_that_is_not_an_origin_stops_the_start(origins: str) -> None:
    with pytest.raises(ValidationError, match="not origins"):
        GatewaySettings(INTAKE_ENV="local", INTAKE_STORAGE_ORIGINS=origins)
