"""Completion end to end: exactly one Asset per upload, through the gateway, on the real stack."""

import asyncio
import dataclasses
import hashlib
import os
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from intake_contracts import keys
from tests.conftest import Caller, System, free_port, new_caller
from tests.support.api import initiate, put_direct
from tests.support.saga import saga_done
from tests.support.storage import exists
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
COMPLETE = "/app/assets/upload/complete"


# --- helpers ----------------------------------------------------------------------------------


async def direct_upload(api: httpx.AsyncClient, caller: Caller, body: bytes, **extra: Any) -> str:
    """A direct session with `body` uploaded through its presigned URL; returns its id."""
    session = await initiate(api, caller, len(body), **extra)
    await put_direct(session, body)
    return str(session["upload_session_id"])


async def upload_parts(
    api: httpx.AsyncClient, caller: Caller, session_id: str, parts: dict[int, bytes]
) -> dict[int, str]:
    """Upload parts through presigned URLs; returns each part's etag."""
    signed = await api.post(
        f"/app/uploads/{session_id}/multipart-part-urls",
        json={"part_numbers": sorted(parts)},
        headers=caller.headers,
    )
    assert signed.status_code == 200, signed.text
    etags: dict[int, str] = {}
    async with httpx.AsyncClient(timeout=60) as raw:
        for part in signed.json()["parts"]:
            put = await raw.put(part["url"], content=parts[part["part_number"]])
            assert put.status_code == 200, put.text
            etags[part["part_number"]] = put.headers["etag"]
    return etags


async def complete(
    api: httpx.AsyncClient, caller: Caller, session_id: str, **extra: Any
) -> httpx.Response:
    body = {"upload_session_id": session_id, **extra}
    return await api.post(COMPLETE, json=body, headers=caller.headers)


async def status_of(api: httpx.AsyncClient, caller: Caller, session_id: str) -> str:
    answer = await api.get(f"/app/uploads/{session_id}", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


async def readable_until_promoted(
    api: httpx.AsyncClient, caller: Caller, s3: Any, session_id: str, sha256: bytes
) -> list[str]:
    """Ask for the Asset again and again until it is promoted, reading its bytes at the key
    each answer names; returns the keys named, in order. Every read must find the bytes."""
    named: list[str] = []
    for _ in range(600):
        answer = await complete(api, caller, session_id)
        assert answer.status_code == 200, answer.text
        asset = answer.json()["asset"]
        assert hashlib.sha256(read(s3, asset["bucket"], asset["object_key"])).digest() == sha256
        if not named or named[-1] != asset["object_key"]:
            named.append(asset["object_key"])
        if asset["promoted_at"] is not None:
            return named
        await asyncio.sleep(0.05)
    raise AssertionError(f"not promoted; keys named: {named}")


async def assets_of(db: asyncpg.Connection, session_id: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM completion.assets WHERE upload_session_id = $1", uuid.UUID(session_id)
    )


async def promoted(db: asyncpg.Connection, session_id: str) -> asyncpg.Record:
    """The Asset once its saga is done: promoted, and the temp object deleted."""
    await saga_done(db, session_id)
    [row] = await assets_of(db, session_id)
    return row


async def promoted_events(db: asyncpg.Connection, session_id: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM completion.outbox WHERE key = $1"
            " AND envelope->>'type' = 'asset.promoted'",
            session_id,
        )
    )


def temp_key(session_id: str) -> str:
    return keys.temp_key(uuid.UUID(session_id))


def read(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def refused(answer: httpx.Response, status: int, code: str) -> None:
    assert (answer.status_code, answer.json().get("code")) == (status, code), answer.text


async def assert_unchanged(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection, session_id: str
) -> None:
    """A refused completion leaves the session UPLOADING and creates nothing."""
    assert await status_of(api, caller, session_id) == "UPLOADING"
    assert await assets_of(db, session_id) == []


# --- the happy paths -------------------------------------------------------------------------


async def test_direct_complete_creates_the_asset_then_promotes_its_object(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection, s3: Any, bucket: str
) -> None:
    body = os.urandom(4321)
    session_id = await direct_upload(api, caller, body)

    first = await complete(api, caller, session_id, title="Holiday")
    assert first.status_code == 201, first.text
    answer = first.json()
    asset = answer["asset"]
    assert (answer["status"], answer["upload_session_id"]) == ("COMPLETED", session_id)
    assert "created" not in answer
    assert asset["asset_id"] == str(keys.asset_id_for(uuid.UUID(session_id)))
    permanent = f"tenants/{caller.tenant_id}/assets/{asset['asset_id']}/original"
    # Recorded where the bytes were when `complete` answered: promotion comes after.
    assert (asset["object_key"], asset["promoted_at"]) == (temp_key(session_id), None)
    assert (asset["title"], asset["size_bytes"], asset["brand_id"]) == (
        "Holiday",
        len(body),
        caller.brand_id,
    )

    row = await promoted(db, session_id)
    assert str(row["asset_id"]) == asset["asset_id"]
    assert (row["tenant_id"], row["object_key"], row["size_bytes"], row["bucket"]) == (
        caller.tenant_id,
        permanent,
        len(body),
        bucket,
    )
    assert row["promoted_at"] is not None
    assert read(s3, bucket, permanent) == body
    assert not exists(s3, bucket, temp_key(session_id))
    assert await promoted_events(db, session_id) == 1
    view = (await api.get(f"/app/uploads/{session_id}", headers=caller.headers)).json()
    assert (view["status"], view["asset_id"]) == ("COMPLETED", asset["asset_id"])

    again = await complete(api, caller, session_id)
    assert again.status_code == 200, again.text
    assert again.json()["asset"]["object_key"] == permanent
    assert again.json()["asset"]["promoted_at"] is not None
    unchanged = {k: v for k, v in asset.items() if k not in {"object_key", "promoted_at"}}
    assert {k: again.json()["asset"][k] for k in unchanged} == unchanged


async def test_multipart_complete_with_the_clients_parts(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection, s3: Any, bucket: str
) -> None:
    """12 MiB is above the test copy threshold (6 MiB): the promotion is a multipart copy."""
    parts = {1: os.urandom(8 * MiB), 2: os.urandom(4 * MiB)}
    session = await initiate(api, caller, 12 * MiB, mime_type="video/mp4")
    session_id = session["upload_session_id"]
    assert session["multipart"]["part_count"] == 2
    etags = await upload_parts(api, caller, session_id, parts)

    listed = [{"part_number": n, "etag": etag} for n, etag in etags.items()]
    answer = await complete(api, caller, session_id, parts=listed)
    assert answer.status_code == 201, answer.text
    expected = hashlib.sha256(parts[1] + parts[2]).digest()
    seen_keys = await readable_until_promoted(api, caller, s3, session_id, expected)
    assert seen_keys[-1] == keys.asset_key(
        caller.tenant_id, keys.asset_id_for(uuid.UUID(session_id))
    )
    key = (await promoted(db, session_id))["object_key"]
    assert key == seen_keys[-1]
    assert hashlib.sha256(read(s3, bucket, key)).digest() == expected
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ETag"].strip('"').endswith("-2")  # assembled by a two-part copy
    assert head["ContentType"] == "video/mp4"
    assert not exists(s3, bucket, temp_key(session_id))
    [row] = await assets_of(db, session_id)
    assert (row["size_bytes"], row["mime_type"]) == (12 * MiB, "video/mp4")


async def test_multipart_complete_without_parts_uses_the_uploaded_ones(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection, s3: Any, bucket: str
) -> None:
    parts = {1: os.urandom(8 * MiB), 2: os.urandom(8 * MiB), 3: b"tail"}
    session = await initiate(api, caller, 16 * MiB + 4)
    session_id = session["upload_session_id"]
    await upload_parts(api, caller, session_id, parts)

    answer = await complete(api, caller, session_id)
    assert answer.status_code == 201, answer.text
    key = (await promoted(db, session_id))["object_key"]
    assert read(s3, bucket, key) == parts[1] + parts[2] + parts[3]
    assert not exists(s3, bucket, temp_key(session_id))
    assert len(await assets_of(db, session_id)) == 1


async def test_declared_checksum_is_verified(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection, s3: Any, bucket: str
) -> None:
    body = os.urandom(2000)
    declared = hashlib.sha256(body).hexdigest()
    good = await direct_upload(api, caller, body, checksum_sha256=declared)
    answer = await complete(api, caller, good)
    assert answer.status_code == 201, answer.text
    assert answer.json()["asset"]["checksum_sha256"] == declared

    bad = await direct_upload(api, caller, os.urandom(2000), checksum_sha256=declared)
    refused(await complete(api, caller, bad), 422, "checksum_mismatch")
    await assert_unchanged(api, caller, db, bad)
    assert exists(s3, bucket, temp_key(bad))


# --- exactly once under concurrency and crashes ----------------------------------------------


async def test_twenty_concurrent_completions_create_one_asset(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection
) -> None:
    session_id = await direct_upload(api, caller, os.urandom(1000))
    answers = await asyncio.gather(*(complete(api, caller, session_id) for _ in range(20)))
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200] * 19 + [201], [a.text for a in answers if a.status_code >= 300]
    assert len({answer.json()["asset"]["asset_id"] for answer in answers}) == 1
    assert len(await assets_of(db, session_id)) == 1


async def test_complete_racing_cancel_ends_in_one_consistent_state(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection, s3: Any, bucket: str
) -> None:
    outcomes: dict[str, int] = {"COMPLETED": 0, "CANCELLED": 0}
    for _ in range(50):
        session_id = await direct_upload(api, caller, os.urandom(256))
        completed, cancelled = await asyncio.gather(
            complete(api, caller, session_id),
            api.post(f"/app/uploads/{session_id}/cancel", headers=caller.headers),
        )
        assert cancelled.status_code == 200, cancelled.text
        status = await status_of(api, caller, session_id)
        assets = await assets_of(db, session_id)
        assert cancelled.json()["status"] == status
        if status == "COMPLETED":
            assert completed.status_code == 201, completed.text
            assert len(assets) == 1
            assert exists(s3, bucket, (await promoted(db, session_id))["object_key"])
        else:
            assert status == "CANCELLED"
            assert assets == []
            # 422 when the cancel removed the bytes before its status change was visible.
            assert (completed.status_code, completed.json()["code"]) in {
                (409, "upload_cancelled"),
                (422, "upload_incomplete"),
            }, completed.text
        outcomes[status] += 1
    # Every round above proved one consistent state; both endings are legal, and which one a
    # round reaches is the race's to decide, so the tally is reported, not asserted.
    print(f"complete vs cancel: {outcomes}")  # noqa: T201


async def test_crash_between_mark_completed_and_asset_is_repaired_by_retry(
    system: System,
    api: httpx.AsyncClient,
    caller: Caller,
    db: asyncpg.Connection,
    s3: Any,
) -> None:
    bucket = system.env["AWS_BUCKET"]
    body = os.urandom(3000)
    session_id = await direct_upload(api, caller, body)
    normal = system.processes["completion"]
    port = free_port()
    fault = {"INTAKE_COMPLETION_FAULT": "crash_after_mark_completed"}
    faulty = dataclasses.replace(
        normal,
        env={**normal.env, **fault, "INTAKE_METRICS_PORT": str(port)},
        log_dir=normal.log_dir / "faulty",
        health_port=port,
        process=None,
    )

    async def exit_code() -> int | None:
        return None if faulty.process is None else faulty.process.poll()

    # The faulty process takes over the consumer group while the normal one is stopped.
    await asyncio.to_thread(normal.stop)
    try:
        faulty.start()
        await asyncio.to_thread(faulty.wait_ready, 90)
        first = asyncio.create_task(complete(api, caller, session_id))
        await eventually(exit_code, lambda code: code is not None, timeout_s=60)
        assert await exit_code() == 1
        assert await status_of(api, caller, session_id) == "COMPLETED"
        assert await assets_of(db, session_id) == []
    finally:
        await asyncio.to_thread(faulty.stop)
        normal.start()
        await asyncio.to_thread(normal.wait_ready, 90)

    async def retry() -> httpx.Response:
        return await complete(api, caller, session_id)

    retried = await eventually(retry, lambda a: a.status_code in {200, 201}, timeout_s=120)
    try:
        # Redelivered to the restarted process, whose start may outlast the client's patience.
        first_answer: httpx.Response | None = await first
    except httpx.TimeoutException:
        first_answer = None
    answers = [a for a in [first_answer, retried] if a is not None and a.status_code in {200, 201}]
    expected = str(keys.asset_id_for(uuid.UUID(session_id)))
    assert {answer.json()["asset"]["asset_id"] for answer in answers} == {expected}
    row = await promoted(db, session_id)
    assert str(row["asset_id"]) == expected
    assert read(s3, bucket, row["object_key"]) == body
    assert not exists(s3, bucket, temp_key(session_id))
    final = await complete(api, caller, session_id)
    assert (final.status_code, final.json()["asset"]["asset_id"]) == (200, expected)


# --- refusals that change nothing --------------------------------------------------------------


async def test_missing_parts_are_an_incomplete_upload_that_can_still_finish(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection
) -> None:
    parts = {1: os.urandom(8 * MiB), 2: os.urandom(MiB)}
    session = await initiate(api, caller, 9 * MiB)
    session_id = session["upload_session_id"]
    etags = await upload_parts(api, caller, session_id, {1: parts[1]})

    refused(await complete(api, caller, session_id), 422, "upload_incomplete")
    gap = [{"part_number": 1, "etag": etags[1]}, {"part_number": 3, "etag": etags[1]}]
    refused(await complete(api, caller, session_id, parts=gap), 422, "parts_invalid")
    await assert_unchanged(api, caller, db, session_id)
    resume = (await api.get(f"/app/uploads/{session_id}/resume", headers=caller.headers)).json()
    assert [part["part_number"] for part in resume["uploaded_parts"]] == [1]

    await upload_parts(api, caller, session_id, {2: parts[2]})
    assert (await complete(api, caller, session_id)).status_code == 201


async def test_a_short_part_is_a_size_mismatch_and_changes_nothing(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection, s3: Any, bucket: str
) -> None:
    session = await initiate(api, caller, 12 * MiB)
    session_id = session["upload_session_id"]
    await upload_parts(api, caller, session_id, {1: os.urandom(8 * MiB)})
    # Part URLs sign each part's exact length, so the short part is put behind their back.
    s3.upload_part(
        Bucket=bucket,
        Key=temp_key(session_id),
        UploadId=session["multipart"]["upload_id"],
        PartNumber=2,
        Body=os.urandom(MiB),
    )

    refused(await complete(api, caller, session_id), 422, "size_mismatch")
    await assert_unchanged(api, caller, db, session_id)
    resume = (await api.get(f"/app/uploads/{session_id}/resume", headers=caller.headers)).json()
    assert [part["part_number"] for part in resume["uploaded_parts"]] == [1, 2]


async def test_direct_object_missing_or_of_another_size_is_refused(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection, s3: Any, bucket: str
) -> None:
    session = await initiate(api, caller, 1000)
    session_id = session["upload_session_id"]
    refused(await complete(api, caller, session_id), 422, "upload_incomplete")

    # The presigned URL refuses another length, so a wrong-sized object is put behind its back.
    s3.put_object(Bucket=bucket, Key=temp_key(session_id), Body=b"short")
    refused(await complete(api, caller, session_id), 422, "size_mismatch")
    await assert_unchanged(api, caller, db, session_id)
    assert read(s3, bucket, temp_key(session_id)) == b"short"


async def test_another_tenant_cannot_complete_or_see_the_asset(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection
) -> None:
    session_id = await direct_upload(api, caller, os.urandom(100))
    intruder = new_caller()
    refused(await complete(api, intruder, session_id), 404, "upload_session_not_found")
    await assert_unchanged(api, caller, db, session_id)

    assert (await complete(api, caller, session_id)).status_code == 201
    refused(await complete(api, intruder, session_id), 404, "upload_session_not_found")


async def test_a_cancelled_upload_cannot_be_completed(
    api: httpx.AsyncClient, caller: Caller, db: asyncpg.Connection
) -> None:
    session_id = await direct_upload(api, caller, os.urandom(100))
    cancelled = await api.post(f"/app/uploads/{session_id}/cancel", headers=caller.headers)
    assert cancelled.status_code == 200
    refused(await complete(api, caller, session_id), 409, "upload_cancelled")
    assert await assets_of(db, session_id) == []
