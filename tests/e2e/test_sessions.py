"""Upload sessions end to end: gateway and initiation as processes, real Kafka, Postgres, S3."""

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest

from intake_contracts import topics
from intake_contracts.commands import CommandType, InitiateUpload
from intake_contracts.envelope import Principal
from intake_runtime.messaging import names
from intake_runtime.messaging.envelopes import command_envelope, encode
from tests.conftest import Caller, System, new_caller
from tests.support import stack, tokens
from tests.support.api import initiate, initiate_body

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024


async def test_direct_upload_lands_exactly_the_bytes(
    api: httpx.AsyncClient, caller: Caller, s3: Any, bucket: str
) -> None:
    body = b"hello intake" * 100
    session = await initiate(api, caller, len(body))
    assert session["upload_type"] == "direct"
    assert session["multipart"] is None
    direct = session["direct"]
    async with httpx.AsyncClient() as raw:
        put = await raw.put(direct["url"], content=body, headers=direct["headers"])
    assert put.status_code == 200, put.text
    stored = s3.get_object(
        Bucket=bucket, Key=f"temp/uploads/{session['upload_session_id']}/original"
    )
    assert stored["Body"].read() == body


async def test_direct_url_refuses_another_length_or_type(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    session = await initiate(api, caller, 100)
    direct = session["direct"]
    async with httpx.AsyncClient() as raw:
        longer = await raw.put(
            direct["url"],
            content=b"x" * 101,
            headers={"Content-Type": direct["headers"]["Content-Type"]},
        )
        other_type = await raw.put(
            direct["url"], content=b"x" * 100, headers={"Content-Type": "image/png"}
        )
    assert longer.status_code == 403
    assert other_type.status_code == 403


async def upload_parts(
    api: httpx.AsyncClient, caller: Caller, session_id: str, parts: dict[int, bytes]
) -> None:
    signed = await api.post(
        f"/app/uploads/{session_id}/multipart-part-urls",
        json={"part_numbers": sorted(parts)},
        headers=caller.headers,
    )
    assert signed.status_code == 200, signed.text
    async with httpx.AsyncClient(timeout=60) as raw:
        for part in signed.json()["parts"]:
            put = await raw.put(part["url"], content=parts[part["part_number"]])
            assert put.status_code == 200, put.text


async def test_multipart_resume_lists_exactly_the_uploaded_parts(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    size = 20 * MiB
    session = await initiate(api, caller, size)
    session_id = session["upload_session_id"]
    multipart = session["multipart"]
    assert session["upload_type"] == "multipart"
    assert (multipart["chunk_size"], multipart["part_count"]) == (8 * MiB, 3)
    chunk = multipart["chunk_size"]
    await upload_parts(api, caller, session_id, {1: b"a" * chunk, 3: b"c" * (size - 2 * chunk)})

    resume = await api.get(f"/app/uploads/{session_id}/resume", headers=caller.headers)
    assert resume.status_code == 200
    view = resume.json()
    assert view["can_resume"] is True
    assert [p["part_number"] for p in view["uploaded_parts"]] == [1, 3]
    assert [p["size"] for p in view["uploaded_parts"]] == [chunk, size - 2 * chunk]
    assert view["uploaded_bytes"] == size - chunk
    assert (view["chunk_size"], view["part_count"]) == (chunk, 3)
    assert view["multipart_upload_id"] == multipart["upload_id"]

    single = await api.post(
        f"/app/uploads/{session_id}/multipart-part-url",
        json={"part_number": 2},
        headers=caller.headers,
    )
    assert single.status_code == 200
    assert single.json()["method"] == "PUT"
    out_of_range = await api.post(
        f"/app/uploads/{session_id}/multipart-part-url",
        json={"part_number": 4},
        headers=caller.headers,
    )
    assert out_of_range.status_code == 422
    assert out_of_range.json()["code"] == "part_number_out_of_range"
    again = (await api.get(f"/app/uploads/{session_id}/resume", headers=caller.headers)).json()
    assert (again["chunk_size"], again["part_count"]) == (chunk, 3)


async def test_batch_reports_each_file_on_its_own(api: httpx.AsyncClient, caller: Caller) -> None:
    files = [
        {
            "file_name": f"ok-{i}.jpg",
            "file_size": 1000 + i,
            "mime_type": "image/jpeg",
            "client_reference": f"ref-{i}",
        }
        for i in range(8)
    ]
    files.insert(
        3,
        {
            "file_name": "empty.jpg",
            "file_size": 0,
            "mime_type": "image/jpeg",
            "client_reference": "bad-size",
        },
    )
    files.insert(
        7,
        {
            "file_name": "a/b.jpg",
            "file_size": 10,
            "mime_type": "image/jpeg",
            "client_reference": "bad-name",
        },
    )
    answer = await api.post(
        "/app/uploads/initiate-batch",
        json={"brand_id": caller.brand_id, "batch_reference": "batch-1", "files": files},
        headers=caller.headers,
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["batch_reference"] == "batch-1"
    by_ref = {item["client_reference"]: item for item in result["uploads"]}
    assert [item["client_reference"] for item in result["uploads"]] == [
        f["client_reference"] for f in files
    ]
    assert by_ref["bad-size"] == {
        "client_reference": "bad-size",
        "ok": False,
        "error": {"code": "file_size_invalid", "detail": by_ref["bad-size"]["error"]["detail"]},
    }
    assert by_ref["bad-name"]["error"]["code"] == "file_name_invalid"
    good = [item for item in result["uploads"] if item["ok"]]
    assert len(good) == 8
    assert all(
        item["batch_reference"] == "batch-1" and item["status"] == "UPLOADING" for item in good
    )
    assert len({item["upload_session_id"] for item in good}) == 8


async def test_batch_of_more_than_100_is_refused(api: httpx.AsyncClient, caller: Caller) -> None:
    files = [
        {
            "file_name": f"{i}.jpg",
            "file_size": 1,
            "mime_type": "image/jpeg",
            "client_reference": str(i),
        }
        for i in range(101)
    ]
    answer = await api.post(
        "/app/uploads/initiate-batch",
        json={"brand_id": caller.brand_id, "files": files},
        headers=caller.headers,
    )
    # The bound is part of the request schema (and the OpenAPI document): a plain 422.
    assert answer.status_code == 422
    assert answer.json()["code"] == "validation_failed"
    assert "files" in answer.text


async def test_cancel_twice_aborts_multipart(
    api: httpx.AsyncClient, caller: Caller, s3: Any, bucket: str
) -> None:
    session = await initiate(api, caller, 12 * MiB)
    session_id = session["upload_session_id"]
    upload_id = session["multipart"]["upload_id"]
    await upload_parts(api, caller, session_id, {1: b"p" * (8 * MiB)})
    first = await api.post(f"/app/uploads/{session_id}/cancel", headers=caller.headers)
    second = await api.post(f"/app/uploads/{session_id}/cancel", headers=caller.headers)
    assert (first.status_code, first.json()["status"]) == (200, "CANCELLED")
    assert (second.status_code, second.json()["status"]) == (200, "CANCELLED")
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.list_parts(Bucket=bucket, Key=f"temp/uploads/{session_id}/original", UploadId=upload_id)
    activity = await api.put(f"/app/uploads/{session_id}/activity", headers=caller.headers)
    assert activity.status_code == 409
    assert activity.json()["code"] == "upload_cancelled"
    resume = (await api.get(f"/app/uploads/{session_id}/resume", headers=caller.headers)).json()
    assert (resume["status"], resume["can_resume"]) == ("CANCELLED", False)


SESSION_CALLS = [
    ("GET", "/app/uploads/{id}", None),
    ("GET", "/app/uploads/{id}/resume", None),
    ("PUT", "/app/uploads/{id}/activity", None),
    ("POST", "/app/uploads/{id}/multipart-part-url", {"part_number": 1}),
    ("POST", "/app/uploads/{id}/multipart-part-urls", {"part_numbers": [1, 2]}),
    ("POST", "/app/uploads/{id}/cancel", None),
    ("GET", "/app/uploads/{id}/events", None),
    ("POST", "/app/assets/upload/complete", "complete"),
]


async def call(
    api: httpx.AsyncClient,
    method: str,
    path: str,
    body: Any,
    session_id: str,
    headers: dict[str, str],
) -> httpx.Response:
    json_body = {"upload_session_id": session_id} if body == "complete" else body
    return await api.request(method, path.format(id=session_id), json=json_body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), SESSION_CALLS)
async def test_another_tenants_session_is_missing(
    api: httpx.AsyncClient, caller: Caller, method: str, path: str, body: Any
) -> None:
    session = await initiate(api, caller, 6 * MiB)
    session_id = session["upload_session_id"]
    intruder = Caller(
        caller.tenant_id + "x",
        caller.brand_id,
        tokens.mint(caller.tenant_id + "x", [caller.brand_id]),
    )
    answer = await call(api, method, path, body, session_id, intruder.headers)
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "upload_session_not_found"
    missing = await call(api, method, path, body, str(uuid.uuid4()), caller.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "upload_session_not_found")
    after = (await api.get(f"/app/uploads/{session_id}", headers=caller.headers)).json()
    assert after["status"] == "UPLOADING"


@pytest.mark.parametrize(("method", "path", "body"), SESSION_CALLS)
async def test_no_token_is_401(api: httpx.AsyncClient, method: str, path: str, body: Any) -> None:
    answer = await call(api, method, path, body, str(uuid.uuid4()), {})
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthenticated"


async def test_wrong_brand_and_missing_permission_are_403(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    other_brand = await api.post(
        "/app/uploads/initiate",
        json={**initiate_body(caller, 10), "brand_id": "not-mine"},
        headers=caller.headers,
    )
    assert (other_brand.status_code, other_brand.json()["code"]) == (403, "brand_not_allowed")
    session = await initiate(api, caller, 10)
    same_tenant_other_brand = tokens.mint(caller.tenant_id, ["elsewhere"])
    read = await api.get(
        f"/app/uploads/{session['upload_session_id']}",
        headers={"Authorization": f"Bearer {same_tenant_other_brand}"},
    )
    assert (read.status_code, read.json()["code"]) == (403, "brand_not_allowed")
    no_permission = tokens.mint(caller.tenant_id, [caller.brand_id], permissions=())
    denied = await api.post(
        "/app/uploads/initiate",
        json=initiate_body(caller, 10),
        headers={"Authorization": f"Bearer {no_permission}"},
    )
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    forged = tokens.mint(caller.tenant_id, [caller.brand_id], secret="not-the-secret-" * 3)
    refused = await api.get(
        f"/app/uploads/{session['upload_session_id']}",
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert refused.status_code == 401


async def test_bad_input_is_a_precise_422(api: httpx.AsyncClient, caller: Caller) -> None:
    too_big = await api.post(
        "/app/uploads/initiate", json=initiate_body(caller, 6 * 1024**4), headers=caller.headers
    )
    assert (too_big.status_code, too_big.json()["code"]) == (422, "file_too_large")
    bad_mime = await api.post(
        "/app/uploads/initiate",
        json=initiate_body(caller, 10, mime_type="nope"),
        headers=caller.headers,
    )
    assert (bad_mime.status_code, bad_mime.json()["code"]) == (422, "mime_type_invalid")
    not_json = await api.post(
        "/app/uploads/initiate",
        content=b"{",
        headers={**caller.headers, "content-type": "application/json"},
    )
    assert (not_json.status_code, not_json.json()["code"]) == (400, "malformed_json")
    missing_field = await api.post(
        "/app/uploads/initiate", json={"file_name": "a"}, headers=caller.headers
    )
    assert (missing_field.status_code, missing_field.json()["code"]) == (422, "validation_failed")
    direct = await initiate(api, caller, 10)
    not_multipart = await api.post(
        f"/app/uploads/{direct['upload_session_id']}/multipart-part-url",
        json={"part_number": 1},
        headers=caller.headers,
    )
    assert (not_multipart.status_code, not_multipart.json()["code"]) == (
        409,
        "invalid_session_state",
    )


async def test_idempotency_key_returns_the_same_session(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    body = initiate_body(caller, 7 * MiB)
    headers = {**caller.headers, "Idempotency-Key": uuid.uuid4().hex}
    answers = await asyncio.gather(
        *(api.post("/app/uploads/initiate", json=body, headers=headers) for _ in range(5))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["upload_session_id"] for a in answers}) == 1
    reused = await api.post(
        "/app/uploads/initiate", json={**body, "file_size": 8 * MiB}, headers=headers
    )
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    other_tenant = new_caller()
    theirs = await api.post(
        "/app/uploads/initiate",
        json=initiate_body(other_tenant, 10),
        headers={**other_tenant.headers, "Idempotency-Key": headers["Idempotency-Key"]},
    )
    assert theirs.status_code == 201
    assert theirs.json()["upload_session_id"] != answers[0].json()["upload_session_id"]


async def test_a_command_delivered_twice_creates_one_session(
    system: System, caller: Caller, db: Any
) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    principal = Principal(
        user_id="u1",
        tenant_id=caller.tenant_id,
        brand_ids=(caller.brand_id,),
        permissions=("assets.upload",),
    )
    # The gateway's reply topic name: initiation answers no other sender of user commands.
    reply_topic = names.topic(topics.reply_topic("gateway", f"test-{uuid.uuid4().hex[:8]}"))
    bootstrap = stack.kafka_access(system.env)
    from intake_runtime.messaging.kafka import delete_topic, ensure_topics

    await ensure_topics(bootstrap, [reply_topic], 1)
    command = InitiateUpload(**initiate_body(caller, 123))
    envelope = command_envelope(
        CommandType.INITIATE, command, correlation_id="dup-1", principal=principal
    )
    consumer = AIOKafkaConsumer(
        reply_topic, **bootstrap.client_options(), auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(**bootstrap.client_options(), enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        headers = [
            ("reply_to", reply_topic.encode()),
            ("correlation_id", b"dup-1"),
            ("content-type", b"application/json"),
        ]
        for _ in range(2):
            await producer.send_and_wait(
                names.topic(topics.INITIATION_COMMANDS), encode(envelope), headers=headers
            )
        replies = []
        async with asyncio.timeout(30):
            while len(replies) < 2:
                record = await consumer.getone()
                replies.append(json.loads(record.value)["payload"])
    finally:
        await producer.stop()
        await consumer.stop()
        await delete_topic(bootstrap, reply_topic)
    assert replies[0] == replies[1]
    assert replies[0]["ok"] is True
    count = await db.fetchval(
        "SELECT count(*) FROM initiation.upload_sessions WHERE tenant_id = $1", caller.tenant_id
    )
    assert count == 1
    events = await db.fetchval(
        "SELECT count(*) FROM initiation.outbox WHERE key = $1",
        replies[0]["result"]["upload_session_id"],
    )
    assert events == 2  # initiated + uploading, once each


async def test_killed_service_loses_no_committed_session_or_event(
    system: System, api: httpx.AsyncClient, caller: Caller, db: Any
) -> None:
    sessions = [await initiate(api, caller, 100 + i) for i in range(5)]
    system.restart("initiation", kill=True)
    for session in sessions:
        again = await api.get(
            f"/app/uploads/{session['upload_session_id']}", headers=caller.headers
        )
        assert again.status_code == 200
        assert again.json()["status"] == "UPLOADING"
    ids = [s["upload_session_id"] for s in sessions]
    from tests.support.waiting import eventually

    async def unpublished() -> int:
        return int(
            await db.fetchval(
                "SELECT count(*) FROM initiation.outbox WHERE key = ANY($1::text[]) AND published_at IS NULL",
                ids,
            )
        )

    await eventually(unpublished, lambda n: n == 0)
    total = await db.fetchval(
        "SELECT count(*) FROM initiation.outbox WHERE key = ANY($1::text[])", ids
    )
    assert total == 10


async def test_a_service_that_does_not_answer_is_a_504(
    system: System, api: httpx.AsyncClient, caller: Caller
) -> None:
    session = await initiate(api, caller, 10)
    system.processes["initiation"].stop()
    try:
        answer = await api.get(
            f"/app/uploads/{session['upload_session_id']}", headers=caller.headers
        )
    finally:
        system.processes["initiation"].start()
        system.processes["initiation"].wait_ready()
    assert answer.status_code == 504
    assert answer.json()["code"] == "service_timeout"
    # The soak found 504s without it: a client must be told it may come back.
    assert answer.headers["Retry-After"] == "5"
    retried = await api.get(f"/app/uploads/{session['upload_session_id']}", headers=caller.headers)
    assert retried.status_code == 200


async def test_openapi_health_and_readiness_are_served(
    api: httpx.AsyncClient, system: System
) -> None:
    schema = await api.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/app/uploads/initiate" in paths
    assert "/app/assets/upload/complete" in paths
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    async with httpx.AsyncClient(timeout=10) as operator:
        ready = await operator.get(system.processes["gateway"].url("/readyz"))
    assert ready.json() == {"status": "ready"}
    unknown = await api.get("/app/nothing-here")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "route_not_found")
