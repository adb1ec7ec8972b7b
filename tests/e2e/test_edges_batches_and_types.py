"""Issue 23, batches and media types against the real services: one bad file never sinks a
batch (every per-file field), and no upload becomes a script (the tricky spellings)."""

import base64
import hashlib
import os
import re
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import Caller, System
from tests.e2e.test_completion import complete, promoted, upload_parts
from tests.support.api import initiate, initiate_body, put_direct
from tests.support.variants import service_as

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
INITIATE = "/app/uploads/initiate"
BATCH = "/app/uploads/initiate-batch"


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def good_file(reference: str = "good") -> dict[str, Any]:
    return {
        "file_name": "photo.jpg",
        "file_size": 10,
        "mime_type": "image/jpeg",
        "client_reference": reference,
    }


# (what is wrong, the file's fields changed, the code its own entry answers)
PER_FILE_PROBLEMS: list[tuple[str, dict[str, Any], str]] = [
    ("control character in the name", {"file_name": "a\x07b.jpg"}, "file_name_invalid"),
    ("bidi override in the name", {"file_name": "exe\u202etxt.jpg"}, "file_name_invalid"),
    ("300-character name", {"file_name": "n" * 296 + ".jpg"}, "file_name_invalid"),
    ("empty name", {"file_name": ""}, "file_name_invalid"),
    ("blank name", {"file_name": "   "}, "file_name_invalid"),
    ("a path for a name", {"file_name": "../etc/passwd"}, "file_name_invalid"),
    ("no name", {"file_name": None}, "file_name_invalid"),
    ("negative size", {"file_size": -1}, "file_size_invalid"),
    ("zero size", {"file_size": 0}, "file_size_invalid"),
    ("size as text", {"file_size": "ten"}, "file_size_invalid"),
    ("fractional size", {"file_size": 1.5}, "file_size_invalid"),
    ("size beyond JSON's exact integers", {"file_size": 2**60}, "file_size_invalid"),
    ("size above the maximum", {"file_size": 6 * 1024**4}, "file_too_large"),
    ("type with a trailing newline", {"mime_type": "text/html\n"}, "mime_type_invalid"),
    ("type with parameters", {"mime_type": "image/jpeg; q=1"}, "mime_type_invalid"),
    ("no type", {"mime_type": None}, "mime_type_invalid"),
    ("HTML", {"mime_type": "text/html"}, "mime_type_not_allowed"),
    ("SVG", {"mime_type": "image/svg+xml"}, "mime_type_not_allowed"),
    ("checksum not hex", {"checksum_sha256": "xyz"}, "validation_failed"),
    ("checksum in upper case", {"checksum_sha256": "A" * 64}, "validation_failed"),
    ("unknown checksum algorithm", {"checksum_algorithm": "MD5"}, "validation_failed"),
    ("checksum not base64", {"checksum": "not base64!"}, "validation_failed"),
    ("checksum without its algorithm", {"checksum": b64_sha256(b"x")}, "checksum_invalid"),
    (
        "checksum of another algorithm's length",
        {"checksum_algorithm": "SHA256", "checksum": "AAAAAA=="},
        "checksum_invalid",
    ),
    (
        "checksum and checksum_sha256 disagree",
        {
            "checksum_algorithm": "SHA256",
            "checksum": b64_sha256(b"x"),
            "checksum_sha256": hashlib.sha256(b"y").hexdigest(),
        },
        "checksum_invalid",
    ),
    (
        "direct file declaring an algorithm, no checksum",
        {"checksum_algorithm": "SHA256"},
        "checksum_required",
    ),
    ("control character in the reference", {"client_reference": "r\x00"}, "validation_failed"),
    ("reference too long", {"client_reference": "r" * 300}, "validation_failed"),
    ("no reference", {"client_reference": None}, "validation_failed"),
    ("another brand", {"brand_id": "b-not-mine"}, "brand_not_allowed"),
    ("brand with a control character", {"brand_id": "b\x01"}, "validation_failed"),
]


@pytest.mark.parametrize(
    ("changes", "code"),
    [(changes, code) for _, changes, code in PER_FILE_PROBLEMS],
    ids=[what for what, _, _ in PER_FILE_PROBLEMS],
)
async def test_a_bad_file_is_refused_alone_and_the_others_go_on(
    api: httpx.AsyncClient, caller: Caller, changes: dict[str, Any], code: str
) -> None:
    bad = {**good_file("bad"), **changes}
    bad = {key: value for key, value in bad.items() if value is not None}
    files = [good_file("first"), bad, good_file("last")]
    answer = await api.post(
        BATCH, json={"brand_id": caller.brand_id, "files": files}, headers=caller.headers
    )
    assert answer.status_code == 200, answer.text
    uploads = answer.json()["uploads"]
    assert [item["ok"] for item in uploads] == [True, False, True]
    assert uploads[0]["client_reference"] == "first"
    assert uploads[2]["client_reference"] == "last"
    assert uploads[1]["error"]["code"] == code, uploads[1]
    expected_reference = bad.get("client_reference")
    if isinstance(expected_reference, str) and code != "validation_failed":
        assert uploads[1]["client_reference"] == expected_reference


async def test_a_file_that_is_not_an_object_is_refused_alone(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    files = [good_file("first"), "not a file", 7]
    answer = await api.post(
        BATCH, json={"brand_id": caller.brand_id, "files": files}, headers=caller.headers
    )
    assert answer.status_code == 200, answer.text
    uploads = answer.json()["uploads"]
    assert [item["ok"] for item in uploads] == [True, False, False]
    assert {item["error"]["code"] for item in uploads[1:]} == {"validation_failed"}


async def test_a_batch_of_only_bad_files_answers_each_refusal(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    files = [{**good_file("a"), "file_size": -1}, {**good_file("b"), "file_name": ""}]
    answer = await api.post(
        BATCH,
        json={"brand_id": caller.brand_id, "files": files, "batch_reference": "mine"},
        headers=caller.headers,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["batch_reference"] == "mine"
    assert [item["error"]["code"] for item in body["uploads"]] == [
        "file_size_invalid",
        "file_name_invalid",
    ]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"brand_id": None, "files": [good_file()]}, 422, "validation_failed"),
        ({"brand_id": "b-not-mine", "files": [good_file()]}, 403, "brand_not_allowed"),
        ({"files": []}, 422, "validation_failed"),
        ({"files": [good_file(str(i)) for i in range(101)]}, 422, "validation_failed"),
        ({"files": "none"}, 422, "validation_failed"),
        (
            {"files": [{**good_file(), "file_name": "n" * 200}] * 10, "pad": "x" * 1024**2},
            413,
            "body_too_large",
        ),
    ],
    ids=["no brand", "brand not allowed", "no files", "101 files", "files not a list", "too big"],
)
async def test_only_problems_of_the_whole_request_refuse_it_whole(
    api: httpx.AsyncClient, caller: Caller, body: dict[str, Any], status: int, code: str
) -> None:
    body = {key: value for key, value in {"brand_id": caller.brand_id, **body}.items() if value}
    answer = await api.post(BATCH, json=body, headers=caller.headers)
    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text


async def test_malformed_json_refuses_the_batch_whole(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    answer = await api.post(
        BATCH,
        content=b'{"brand_id": "x", "files": [',
        headers={**caller.headers, "Content-Type": "application/json"},
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "malformed_json")


async def test_the_openapi_document_says_files_are_refused_one_by_one(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/schema/openapi.json")).json()
    files = document["components"]["schemas"]["InitiateBatchBody"]["properties"]["files"]
    assert "checked on its own" in files["description"]
    assert files["maxItems"] == 100
    named = set(re.findall(r"[a-z_]+", files["description"]))
    per_file = {code for _, _, code in PER_FILE_PROBLEMS} | {"quota_exceeded"}
    assert per_file <= named, per_file - named
    for whole in ("brand_id", "malformed JSON", "body too large"):
        assert whole in files["description"]


# --- media types ----------------------------------------------------------------------------

TRICKY_TYPES: list[tuple[str, str | None]] = [
    ("text/html\n", None),
    ("image/png\n", None),
    ("image/png\r\n", None),
    (" image/png", None),
    ("image/png ", None),
    ("image/png; charset=utf-8", None),
    ("IMAGE/PNG", "image/png"),
    ("Application/PDF", "application/pdf"),
    ("image/svg+xml", "refused"),
    ("IMAGE/SVG+XML", "refused"),
    ("text/xml", "refused"),
    ("application/xml", "refused"),
    ("application/atom+xml", "refused"),
    ("application/xhtml+xml", "refused"),
    ("TEXT/HTML", "refused"),
    ("text/javascript", "refused"),
]


@pytest.mark.parametrize(("spelling", "stored"), TRICKY_TYPES)
async def test_each_spelling_of_a_type_is_invalid_refused_or_stored_lower_cased(
    api: httpx.AsyncClient, caller: Caller, spelling: str, stored: str | None
) -> None:
    answer = await api.post(
        INITIATE, json=initiate_body(caller, 10, mime_type=spelling), headers=caller.headers
    )
    if stored is None:
        assert (answer.status_code, answer.json()["code"]) == (422, "mime_type_invalid")
        assert answer.json()["errors"][0]["key"] == "mime_type"
    elif stored == "refused":
        assert (answer.status_code, answer.json()["code"]) == (422, "mime_type_not_allowed")
    else:
        assert answer.status_code == 201, answer.text
        session = answer.json()
        assert session["mime_type"] == stored
        assert session["direct"]["headers"]["Content-Type"] == stored


async def test_the_direct_put_is_signed_for_the_stored_type_only(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    answer = await api.post(
        INITIATE, json=initiate_body(caller, 5, mime_type="Image/PNG"), headers=caller.headers
    )
    assert answer.status_code == 201, answer.text
    direct = answer.json()["direct"]
    async with httpx.AsyncClient(timeout=30) as storage:
        html = await storage.put(
            direct["url"],
            content=b"<svg>",
            headers={**direct["headers"], "Content-Type": "text/html"},
        )
        assert html.status_code == 403, html.text
        upper = await storage.put(
            direct["url"],
            content=b"\x89PNG!",
            headers={**direct["headers"], "Content-Type": "Image/PNG"},
        )
        assert upper.status_code == 403, upper.text
    await put_direct(answer.json(), b"\x89PNG!")


async def promoted_head(db: asyncpg.Connection, s3: Any, bucket: str, session_id: str) -> Any:
    """S3's HEAD of the session's Asset at its permanent key, once promoted."""
    asset = await promoted(db, session_id)
    return s3.head_object(Bucket=bucket, Key=asset["object_key"])


@pytest.mark.parametrize(
    ("mime_type", "disposition"),
    [("application/zip", "attachment"), ("text/csv", "attachment"), ("image/png", None)],
)
async def test_a_promoted_object_of_a_type_a_browser_would_not_just_show_is_a_download(
    api: httpx.AsyncClient,
    caller: Caller,
    db: asyncpg.Connection,
    s3: Any,
    bucket: str,
    mime_type: str,
    disposition: str | None,
) -> None:
    body = uuid.uuid4().bytes * 4
    answer = await api.post(
        INITIATE,
        json=initiate_body(
            caller, len(body), mime_type=mime_type, checksum_sha256=hashlib.sha256(body).hexdigest()
        ),
        headers=caller.headers,
    )
    assert answer.status_code == 201, answer.text
    session = answer.json()
    await put_direct(session, body)
    completed = await complete(api, caller, session["upload_session_id"])
    assert completed.status_code == 201, completed.text
    head = await promoted_head(db, s3, bucket, session["upload_session_id"])
    assert head["ContentType"] == mime_type
    assert head.get("ContentDisposition") == disposition


@pytest.mark.parametrize(
    ("mime_type", "disposition"), [("application/zip", "attachment"), ("video/mp4", None)]
)
async def test_a_large_promoted_object_gets_the_same_disposition_from_its_multipart_copy(
    api: httpx.AsyncClient,
    caller: Caller,
    db: asyncpg.Connection,
    s3: Any,
    bucket: str,
    mime_type: str,
    disposition: str | None,
) -> None:
    """12 MiB is above the tests' copy threshold (6 MiB): promotion copies it in parts, and the
    multipart upload it opens must carry the disposition a single copy would."""
    parts = {1: os.urandom(8 * MiB), 2: os.urandom(4 * MiB)}
    session = await initiate(api, caller, 12 * MiB, mime_type=mime_type)
    session_id = session["upload_session_id"]
    etags = await upload_parts(api, caller, session_id, parts)
    listed = [{"part_number": n, "etag": etag} for n, etag in etags.items()]
    completed = await complete(api, caller, session_id, parts=listed)
    assert completed.status_code == 201, completed.text
    head = await promoted_head(db, s3, bucket, session_id)
    assert head["ETag"].strip('"').endswith("-2")  # assembled by a two-part copy
    assert head["ContentType"] == mime_type
    assert head.get("ContentDisposition") == disposition


async def test_an_algorithm_the_store_does_not_verify_is_refused_alone_in_a_batch(
    system: System, api: httpx.AsyncClient, caller: Caller
) -> None:
    crc32c = {"checksum_algorithm": "CRC32C", "checksum": "AAAAAA=="}  # 4 bytes: a CRC32C
    async with service_as(system, "initiation", "sha256-only", INTAKE_CHECKSUM_ALGORITHMS="SHA256"):
        single = await api.post(
            INITIATE, json=initiate_body(caller, 10, **crc32c), headers=caller.headers
        )
        assert (single.status_code, single.json()["code"]) == (
            422,
            "checksum_algorithm_unsupported",
        ), single.text
        files = [good_file("first"), {**good_file("crc"), **crc32c}, good_file("last")]
        answer = await api.post(
            BATCH, json={"brand_id": caller.brand_id, "files": files}, headers=caller.headers
        )
    assert answer.status_code == 200, answer.text
    uploads = answer.json()["uploads"]
    assert [item["ok"] for item in uploads] == [True, False, True]
    assert uploads[1]["client_reference"] == "crc"
    assert uploads[1]["error"]["code"] == "checksum_algorithm_unsupported"
