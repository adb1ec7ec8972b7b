"""CORS: configured origins get a grant from the gateway and the bucket; others get none."""

from typing import Any

import httpx
import pytest

from tests.conftest import CONFIGURED_ORIGIN, Caller, System

pytestmark = pytest.mark.e2e

FOREIGN_ORIGIN = "http://evil.example"


def preflight(url: str, origin: str, method: str, headers: str = "") -> httpx.Response:
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request_headers["Access-Control-Request-Headers"] = headers
    return httpx.options(url, headers=request_headers, timeout=30)


async def test_gateway_grants_configured_origins_only(system: System) -> None:
    url = f"{system.gateway_url}/app/uploads/initiate-batch"

    granted = preflight(url, CONFIGURED_ORIGIN, "POST", "authorization,content-type")
    refused = preflight(url, FOREIGN_ORIGIN, "POST", "authorization,content-type")

    assert granted.headers.get("access-control-allow-origin") == CONFIGURED_ORIGIN
    assert "authorization" in granted.headers.get("access-control-allow-headers", "").lower()
    assert "access-control-allow-origin" not in refused.headers


async def test_bucket_grants_configured_origins_only_and_exposes_etag(
    system: System, api: Any, caller: Caller, s3: Any, bucket: str
) -> None:
    answer = await api.post(
        "/app/uploads/initiate",
        json={
            "file_name": "a.bin",
            "file_size": 10,
            "mime_type": "application/octet-stream",
            "brand_id": caller.brand_id,
        },
        headers=caller.headers,
    )
    assert answer.status_code == 201, answer.text
    url = answer.json()["direct"]["url"]

    granted = preflight(url, CONFIGURED_ORIGIN, "PUT", "content-type")
    refused = preflight(url, FOREIGN_ORIGIN, "PUT", "content-type")

    assert granted.headers.get("access-control-allow-origin") == CONFIGURED_ORIGIN
    assert "etag" in granted.headers.get("access-control-expose-headers", "").lower()
    assert "access-control-allow-origin" not in refused.headers
    rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert [
        rule["ExposeHeaders"] for rule in rules if rule.get("ID") == "intake-browser-uploads"
    ] == [["ETag"]]
