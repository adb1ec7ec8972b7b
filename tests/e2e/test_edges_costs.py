"""Issue 23, each tenant's cost bounded, against the real services: a quota of open sessions
held by initiation (429 quota_exceeded, per file in a batch), a batch charged per file, and a
limit per client address that runs before the body is read or the token checked."""

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Caller, System, new_caller
from tests.support.api import initiate_body
from tests.support.gateways import own_gateway
from tests.support.variants import service_as

pytestmark = pytest.mark.e2e

INITIATE = "/app/uploads/initiate"
BATCH = "/app/uploads/initiate-batch"


def batch_of(caller: Caller, count: int) -> dict[str, Any]:
    files = [
        {
            "file_name": f"{i}.png",
            "file_size": 10,
            "mime_type": "image/png",
            "client_reference": f"r{i}",
        }
        for i in range(count)
    ]
    return {"brand_id": caller.brand_id, "files": files}


async def test_a_tenant_at_its_quota_of_open_sessions_is_told_so_per_request_and_per_file(
    system: System, api: httpx.AsyncClient
) -> None:
    caller, other = new_caller(), new_caller()
    async with service_as(
        system,
        "initiation",
        "quota",
        INTAKE_TENANT_MAX_OPEN_SESSIONS="2",
        INTAKE_TENANT_MAX_OPEN_BYTES="1000",
    ):
        first = await api.post(INITIATE, json=initiate_body(caller, 10), headers=caller.headers)
        second = await api.post(INITIATE, json=initiate_body(caller, 10), headers=caller.headers)
        assert (first.status_code, second.status_code) == (201, 201), second.text
        over = await api.post(INITIATE, json=initiate_body(caller, 10), headers=caller.headers)
        assert (over.status_code, over.json()["code"]) == (429, "quota_exceeded"), over.text
        assert "complete or cancel" in over.json()["detail"]

        batch = await api.post(BATCH, json=batch_of(caller, 2), headers=caller.headers)
        assert batch.status_code == 200, batch.text
        assert [u["error"]["code"] for u in batch.json()["uploads"]] == ["quota_exceeded"] * 2

        elsewhere = await api.post(INITIATE, json=initiate_body(other, 10), headers=other.headers)
        assert elsewhere.status_code == 201, elsewhere.text  # another tenant's quota is its own
        # Its 10 bytes and 991 more would pass the 1,000 bytes declared in flight.
        too_many_bytes = await api.post(
            INITIATE, json=initiate_body(other, 991), headers=other.headers
        )
        assert (too_many_bytes.status_code, too_many_bytes.json()["code"]) == (
            429,
            "quota_exceeded",
        ), too_many_bytes.text
        assert "bytes declared" in too_many_bytes.json()["detail"]
        fits = await api.post(INITIATE, json=initiate_body(other, 990), headers=other.headers)
        assert fits.status_code == 201, fits.text

        session_id = first.json()["upload_session_id"]
        cancelled = await api.post(f"/app/uploads/{session_id}/cancel", headers=caller.headers)
        assert cancelled.status_code == 200, cancelled.text
        again = await api.post(INITIATE, json=initiate_body(caller, 10), headers=caller.headers)
        assert again.status_code == 201, again.text


async def test_a_batch_costs_one_token_per_file(
    system: System, tmp_path: Path, caller: Caller
) -> None:
    with own_gateway(
        system, tmp_path, INTAKE_RATE_LIMIT_PER_S="0.001", INTAKE_RATE_LIMIT_BURST="10"
    ) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as api:
            six = await api.post(BATCH, json=batch_of(caller, 6), headers=caller.headers)
            assert six.status_code == 200, six.text
            refused = await api.post(BATCH, json=batch_of(caller, 6), headers=caller.headers)
            assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
            assert int(refused.headers["Retry-After"]) >= 1
            # The refused batch took its own request's token only: three are left.
            three = await api.post(BATCH, json=batch_of(caller, 3), headers=caller.headers)
            assert three.status_code == 200, three.text


async def test_a_client_address_is_limited_before_its_body_is_read_or_token_checked(
    system: System, tmp_path: Path
) -> None:
    with own_gateway(
        system,
        tmp_path,
        INTAKE_CLIENT_RATE_LIMIT_PER_S="0.001",
        INTAKE_CLIENT_RATE_LIMIT_BURST="3",
    ) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as api:
            for _ in range(3):
                anonymous = await api.post(INITIATE, json={})
                assert anonymous.status_code == 401, anonymous.text
            garbage = await api.post(
                INITIATE,
                content=b"{not json" + uuid.uuid4().bytes,
                headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
            )
            assert (garbage.status_code, garbage.json()["code"]) == (429, "rate_limited")
            assert "client address" in garbage.json()["detail"]
            assert int(garbage.headers["Retry-After"]) >= 1
            # Refused before the app proper, it still carries every answer's headers.
            assert garbage.headers["x-content-type-options"] == "nosniff"
            assert garbage.headers["referrer-policy"] == "no-referrer"
            assert (await api.get("/healthz")).status_code == 200  # probes are not limited
