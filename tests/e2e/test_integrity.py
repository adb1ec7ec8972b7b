"""Integrity end to end (issue 24): S3 refuses wrong bytes as they arrive, complete records
what it checked, and only those bytes are ever promoted."""

import asyncio
import base64
import hashlib
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import google_crc32c
import httpx
import pytest

from intake_client import IntakeApi, StateFile, UploadManager, UploadOptions
from intake_client.storage import Answer, Pace, Storage
from intake_contracts import keys
from tests.conftest import Caller, System
from tests.e2e.test_client import INTAKE, cli_env, random_file, sha256_of_file, sha256_of_object
from tests.support import stack
from tests.support.api import initiate
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
COMPLETE = "/app/assets/upload/complete"
SHA256_HEADER = "x-amz-checksum-sha256"


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def b64_crc32c(data: bytes) -> str:
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


def damaged(data: bytes) -> bytes:
    """The same length, one bit flipped."""
    return bytes([data[0] ^ 1]) + data[1:]


async def put(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as storage:
        return await storage.put(url, content=body, headers=headers)


async def complete(api: httpx.AsyncClient, caller: Caller, session_id: str) -> httpx.Response:
    body = {"upload_session_id": session_id}
    return await api.post(COMPLETE, json=body, headers=caller.headers)


async def settled_asset(api: httpx.AsyncClient, caller: Caller, session_id: str) -> dict[str, Any]:
    """The Asset once promotion is over: promoted, or failing integrity."""

    async def settled() -> dict[str, Any] | None:
        answer = await complete(api, caller, session_id)
        assert answer.status_code == 200, answer.text
        asset: dict[str, Any] = answer.json()["asset"]
        return asset if asset["promoted_at"] or asset["integrity_failed_at"] else None

    asset = await eventually(settled, timeout_s=60)
    assert asset is not None
    return asset


def permanent_object(s3: Any, asset: dict[str, Any]) -> bytes | None:
    key = keys.asset_key(asset["tenant_id"], uuid.UUID(asset["asset_id"]))
    try:
        body: bytes = s3.get_object(Bucket=asset["bucket"], Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return body


async def test_a_direct_upload_with_a_declared_checksum_is_refused_at_put_for_wrong_bytes(
    api: httpx.AsyncClient, caller: Caller, s3: Any
) -> None:
    body = os.urandom(4096)
    sha256 = hashlib.sha256(body).hexdigest()
    session = await initiate(
        api, caller, len(body), checksum_algorithm="SHA256", checksum_sha256=sha256
    )
    assert session["checksum_algorithm"] == "SHA256"
    direct = session["direct"]
    assert direct["headers"][SHA256_HEADER] == b64_sha256(body)

    refused = await put(direct["url"], damaged(body), direct["headers"])
    assert refused.status_code == 400
    assert "BadDigest" in refused.text
    accepted = await put(direct["url"], body, direct["headers"])
    assert accepted.status_code == 200, accepted.text

    done = await complete(api, caller, str(session["upload_session_id"]))
    assert done.status_code == 201, done.text
    asset = done.json()["asset"]
    assert asset["checksum_algorithm"] == "SHA256"
    assert asset["checksum"] == b64_sha256(body)
    assert asset["etag"] == hashlib.md5(body, usedforsecurity=False).hexdigest()
    # After complete the URL still lives, but it signed the checksum: other bytes never land.
    again = await put(direct["url"], os.urandom(len(body)), direct["headers"])
    assert again.status_code == 400
    settled = await settled_asset(api, caller, str(session["upload_session_id"]))
    assert settled["integrity_failed_at"] is None
    assert permanent_object(s3, settled) == body


async def test_complete_then_a_re_put_of_other_bytes_never_becomes_the_asset(
    api: httpx.AsyncClient, caller: Caller, s3: Any
) -> None:
    """Without a declared checksum the direct URL takes other bytes of the same length after
    complete: promotion copies only the ETag complete checked, so the Asset gets the completed
    bytes or is marked as failing integrity, never the new bytes."""
    body, other = os.urandom(4096), os.urandom(4096)
    session = await initiate(api, caller, len(body))
    session_id, direct = str(session["upload_session_id"]), session["direct"]
    assert (await put(direct["url"], body, direct["headers"])).status_code == 200
    done = await complete(api, caller, session_id)
    assert done.status_code == 201, done.text
    replaced = await put(direct["url"], other, direct["headers"])
    assert replaced.status_code == 200, replaced.text

    asset = await settled_asset(api, caller, session_id)
    stored = permanent_object(s3, asset)
    assert stored != other
    if asset["integrity_failed_at"] is None:
        assert stored == body
    else:
        assert stored is None
        answer = await api.get(f"/app/uploads/{session_id}/events", headers=caller.headers)

        async def failure_logged() -> bool:
            answer = await api.get(f"/app/uploads/{session_id}/events", headers=caller.headers)
            return "asset.integrity_failed" in {event["type"] for event in answer.json()["events"]}

        assert answer.status_code == 200
        await eventually(failure_logged, timeout_s=30)


async def test_part_urls_sign_each_parts_checksum(
    api: httpx.AsyncClient, caller: Caller, s3: Any
) -> None:
    parts = {1: os.urandom(8 * MiB), 2: os.urandom(MiB)}
    size = sum(map(len, parts.values()))
    session = await initiate(api, caller, size, checksum_algorithm="SHA256")
    session_id = str(session["upload_session_id"])
    url_of_part = f"/app/uploads/{session_id}/multipart-part-url"

    unsigned = await api.post(url_of_part, json={"part_number": 1}, headers=caller.headers)
    assert unsigned.status_code == 422
    assert unsigned.json()["code"] == "checksum_required"
    wrong_kind = await api.post(
        url_of_part, json={"part_number": 1, "checksum": "AAAAAA=="}, headers=caller.headers
    )
    assert wrong_kind.json()["code"] == "checksum_invalid"

    first = await api.post(
        url_of_part, json={"part_number": 1, "checksum": b64_sha256(parts[1])},
        headers=caller.headers,
    )  # fmt: skip
    assert first.status_code == 200, first.text
    signed = first.json()
    assert signed["headers"] == {SHA256_HEADER: b64_sha256(parts[1])}
    refused = await put(signed["url"], damaged(parts[1]), signed["headers"])
    assert refused.status_code == 400
    assert "BadDigest" in refused.text
    sent = await put(signed["url"], parts[1], signed["headers"])
    assert sent.status_code == 200

    batch = await api.post(
        f"/app/uploads/{session_id}/multipart-part-urls",
        json={"part_numbers": [2], "checksums": [b64_sha256(parts[2])]},
        headers=caller.headers,
    )
    assert batch.status_code == 200, batch.text
    [second] = batch.json()["parts"]
    assert (await put(second["url"], parts[2], second["headers"])).status_code == 200

    # S3 opened the upload COMPOSITE: complete names every part's checksum (next test).
    done = await complete_with(api, caller, session_id, parts, parts_checksums(parts))
    assert done.status_code == 201, done.text
    asset = done.json()["asset"]
    assert asset["checksum_algorithm"] == "SHA256"
    assert asset["etag"].endswith("-2")
    assert asset["checksum"] == composite_sha256(parts)
    settled = await settled_asset(api, caller, session_id)
    assert permanent_object(s3, settled) == parts[1] + parts[2]


def composite_sha256(parts: dict[int, bytes]) -> str:
    """S3's COMPOSITE SHA-256 of a multipart object: of its parts' SHA-256s, `-<count>`."""
    digests = b"".join(hashlib.sha256(parts[n]).digest() for n in sorted(parts))
    return f"{b64_sha256(digests)}-{len(parts)}"


def parts_checksums(parts: dict[int, bytes]) -> dict[int, str | None]:
    return {n: b64_sha256(data) for n, data in parts.items()}


async def complete_with(
    api: httpx.AsyncClient,
    caller: Caller,
    session_id: str,
    parts: dict[int, bytes],
    checksums: dict[int, str | None],
) -> httpx.Response:
    """complete naming each part, with `checksums[n]` where it is not None."""
    listed = [
        {
            "part_number": n,
            "etag": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            **({"checksum": checksums[n]} if checksums.get(n) else {}),
        }
        for n, data in sorted(parts.items())
    ]
    body = {"upload_session_id": session_id, "parts": listed}
    return await api.post(COMPLETE, json=body, headers=caller.headers)


async def sha256_multipart(
    api: httpx.AsyncClient, caller: Caller, parts: dict[int, bytes], **declared: str
) -> str:
    """A SHA256 multipart session whose parts are all uploaded on URLs signing their SHA-256."""
    session = await initiate(
        api, caller, sum(map(len, parts.values())), checksum_algorithm="SHA256", **declared
    )
    session_id = str(session["upload_session_id"])
    numbers = sorted(parts)
    signed = await api.post(
        f"/app/uploads/{session_id}/multipart-part-urls",
        json={"part_numbers": numbers, "checksums": [b64_sha256(parts[n]) for n in numbers]},
        headers=caller.headers,
    )
    assert signed.status_code == 200, signed.text
    for url, n in zip(signed.json()["parts"], numbers, strict=True):
        assert (await put(url["url"], parts[n], url["headers"])).status_code == 200
    return session_id


async def test_a_sha256_multipart_complete_without_part_checksums_leaves_the_upload_open(
    api: httpx.AsyncClient, caller: Caller, s3: Any
) -> None:
    """S3 completes a COMPOSITE upload only with every part's checksum; SeaweedFS's ListParts
    reports none, so complete asks the client for them before S3 sees the list, and the
    multipart upload stays open for the retry that brings them."""
    parts = {1: os.urandom(8 * MiB), 2: os.urandom(MiB)}  # the chunk, and the rest
    session_id = await sha256_multipart(api, caller, parts)
    right = parts_checksums(parts)

    bare = await complete(api, caller, session_id)
    assert (bare.status_code, bare.json()["code"]) == (422, "checksum_required"), bare.text
    one_lacking = await complete_with(api, caller, session_id, parts, {**right, 2: None})
    assert one_lacking.json()["code"] == "checksum_required"
    assert "[2]" in one_lacking.json()["detail"]
    not_sha256 = await complete_with(api, caller, session_id, parts, {**right, 1: "AAAAAA=="})
    assert (not_sha256.status_code, not_sha256.json()["code"]) == (422, "checksum_invalid")
    # A SHA-256, but another part's: S3 refuses the list (BadDigest) and keeps the upload.
    swapped = await complete_with(api, caller, session_id, parts, {1: right[2], 2: right[1]})
    assert (swapped.status_code, swapped.json()["code"]) == (422, "parts_invalid"), swapped.text
    session = await api.get(f"/app/uploads/{session_id}", headers=caller.headers)
    assert session.json()["status"] == "UPLOADING"

    done = await complete_with(api, caller, session_id, parts, right)
    assert done.status_code == 201, done.text
    asset = done.json()["asset"]
    assert (asset["checksum_algorithm"], asset["checksum"]) == ("SHA256", composite_sha256(parts))
    settled = await settled_asset(api, caller, session_id)
    assert permanent_object(s3, settled) == parts[1] + parts[2]


async def test_a_sha256_multipart_upload_records_the_declared_files_sha256_once_read_back(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    """S3's composite value is not comparable with the file's SHA-256: the declared one is
    verified by reading the object back, and is what the Asset records."""
    parts = {1: os.urandom(8 * MiB), 2: os.urandom(MiB)}  # the chunk, and the rest
    whole = hashlib.sha256(parts[1] + parts[2]).hexdigest()
    session_id = await sha256_multipart(api, caller, parts, checksum_sha256=whole)
    done = await complete_with(api, caller, session_id, parts, parts_checksums(parts))
    assert done.status_code == 201, done.text
    assert done.json()["asset"]["checksum"] == b64_sha256(parts[1] + parts[2])

    other = hashlib.sha256(b"another file").hexdigest()
    wrong = await sha256_multipart(api, caller, parts, checksum_sha256=other)
    refused = await complete_with(api, caller, wrong, parts, parts_checksums(parts))
    assert (refused.status_code, refused.json()["code"]) == (422, "checksum_mismatch")


async def test_initiate_refuses_an_algorithm_without_what_it_needs(
    api: httpx.AsyncClient, caller: Caller
) -> None:
    body = {
        "file_name": "a.bin",
        "file_size": 100,
        "mime_type": "application/octet-stream",
        "brand_id": caller.brand_id,
    }
    unknown = await api.post(
        "/app/uploads/initiate", json={**body, "checksum_algorithm": "MD5"}, headers=caller.headers
    )
    assert unknown.status_code == 422
    no_digest = await api.post(
        "/app/uploads/initiate",
        json={**body, "checksum_algorithm": "SHA256"},
        headers=caller.headers,
    )
    assert no_digest.status_code == 422
    assert no_digest.json()["code"] == "checksum_required"


class DamagingStorage(Storage):
    """The standard library carrier, sending wrong bytes of the right length for one part,
    once: what a flipped bit on the wire looks like to S3."""

    def __init__(self, part_number: int, scratch: Path, marker: str | None = None) -> None:
        super().__init__()
        self._marker, self._scratch = marker or f"partNumber={part_number}&", scratch
        self.damaged = 0

    def put(
        self,
        url: str,
        path: Path,
        offset: int,
        size: int,
        *,
        headers: dict[str, str] | None = None,
        on_sent: Any = lambda _: None,
        pace: Pace | None = None,
    ) -> Answer:
        if self.damaged == 0 and self._marker in url:
            self.damaged += 1
            with path.open("rb") as source:
                source.seek(offset)
                self._scratch.write_bytes(damaged(source.read(size)))
            path, offset = self._scratch, 0
        return super().put(url, path, offset, size, headers=headers, on_sent=on_sent, pace=pace)


async def test_a_part_s3_refuses_for_a_bad_digest_is_sent_again(
    system: System, caller: Caller, s3: Any, tmp_path: Path
) -> None:
    file = random_file(tmp_path / "damaged.bin", 20 * MiB)
    carrier = DamagingStorage(2, tmp_path / "part-2.bin")
    api = IntakeApi(system.gateway_url, caller.token)
    try:
        async with UploadManager(api, state=StateFile(tmp_path / "s.json"), s3_http=carrier) as m:
            [result] = await m.upload([file], UploadOptions(caller.brand_id, parallel=2))
    finally:
        carrier.close()
        await api.aclose()

    assert result.status == "completed", result.error
    assert carrier.damaged == 1
    assert result.resent_for_digest == 1  # that part only, once
    assert result.parts_sent == 3
    assert result.asset is not None
    # The client's default: a FULL_OBJECT CRC32C upload, whose whole-object checksum S3
    # reports at complete and the Asset records.
    assert result.asset["checksum_algorithm"] == "CRC32C"
    assert result.asset["checksum"] == b64_crc32c(file.read_bytes())
    assert await asyncio.to_thread(sha256_of_object, s3, result.asset) == sha256_of_file(file)


async def test_a_direct_upload_s3_refuses_for_a_bad_digest_is_sent_again(
    system: System, caller: Caller, s3: Any, tmp_path: Path
) -> None:
    file = random_file(tmp_path / "small.bin", MiB)
    carrier = DamagingStorage(0, tmp_path / "damaged.bin", marker="X-Amz-")
    api = IntakeApi(system.gateway_url, caller.token)
    try:
        async with UploadManager(api, state=StateFile(tmp_path / "s.json"), s3_http=carrier) as m:
            [result] = await m.upload([file], UploadOptions(caller.brand_id))
    finally:
        carrier.close()
        await api.aclose()

    assert result.status == "completed", result.error
    assert (carrier.damaged, result.resent_for_digest) == (1, 1)
    assert result.asset is not None
    assert result.asset["checksum"] == b64_crc32c(file.read_bytes())
    assert await asyncio.to_thread(sha256_of_object, s3, result.asset) == sha256_of_file(file)


@pytest.mark.parametrize("algorithm", [None, "SHA256"])
def test_the_cli_uploads_a_multipart_file_with_checksums_on(
    system: System, caller: Caller, s3: Any, tmp_path: Path, algorithm: str | None
) -> None:
    file = random_file(tmp_path / "cli.bin", 12 * MiB)
    chosen = ["--checksum-algorithm", algorithm] if algorithm else []  # None: the default
    answer = subprocess.run(
        [INTAKE, "upload", str(file), "--json", "--quiet", *chosen,
         "--state-file", str(tmp_path / "state.json")],
        env=cli_env(system, caller.token), capture_output=True, text=True, timeout=180,
        check=False,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    [result] = json.loads(answer.stdout)
    assert result["status"] == "completed"
    assert result["asset"]["checksum_algorithm"] == (algorithm or "CRC32C")
    data = file.read_bytes()
    if algorithm is None:
        assert result["asset"]["checksum"] == b64_crc32c(data)
    else:  # a COMPOSITE upload the CLI completed with its parts' checksums
        chunk = session_chunk_size(system, caller, result["upload_session_id"])
        parts = {n: data[o : o + chunk] for n, o in enumerate(range(0, len(data), chunk), 1)}
        assert len(parts) > 1
        assert result["asset"]["checksum"] == composite_sha256(parts)
    assert sha256_of_object(s3, result["asset"]) == sha256_of_file(file)


def session_chunk_size(system: System, caller: Caller, session_id: str) -> int:
    answer = httpx.get(
        f"{system.gateway_url}/app/uploads/{session_id}", headers=caller.headers, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["multipart"]["chunk_size"])


def crc64nvme_by_the_store(
    stack_env: dict[str, str], bucket: str, parts: list[bytes]
) -> tuple[list[str], str]:
    """Each part's CRC64NVME and the whole object's, as S3 computes them: a scratch upload
    opened with that algorithm reports both (Python has no CRC64NVME of its own)."""
    client = stack.s3_client(stack_env, request_checksum_calculation="when_required")
    key = f"scratch/crc64nvme/{uuid.uuid4()}"
    upload = client.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm="CRC64NVME", ChecksumType="FULL_OBJECT"
    )["UploadId"]
    answers = [
        client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=data)
        for n, data in enumerate(parts, start=1)
    ]
    done = client.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload,
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": a["ETag"]} for n, a in enumerate(answers, 1)]
        },
    )
    client.delete_object(Bucket=bucket, Key=key)
    return [str(a["ChecksumCRC64NVME"]) for a in answers], str(done["ChecksumCRC64NVME"])


async def test_a_crc64nvme_upload_is_checked_part_by_part_and_as_a_whole(
    api: httpx.AsyncClient, caller: Caller, s3: Any, stack_env: dict[str, str], bucket: str
) -> None:
    parts = [os.urandom(8 * MiB), os.urandom(MiB)]
    checksums, whole = await asyncio.to_thread(crc64nvme_by_the_store, stack_env, bucket, parts)

    async def upload(declared_whole: str) -> str:
        session = await initiate(
            api, caller, sum(map(len, parts)), checksum_algorithm="CRC64NVME",
            checksum=declared_whole,
        )  # fmt: skip
        assert session["checksum_algorithm"] == "CRC64NVME"
        session_id = str(session["upload_session_id"])
        signed = await api.post(
            f"/app/uploads/{session_id}/multipart-part-urls",
            json={"part_numbers": [1, 2], "checksums": checksums},
            headers=caller.headers,
        )
        assert signed.status_code == 200, signed.text
        first, second = signed.json()["parts"]
        assert first["headers"] == {"x-amz-checksum-crc64nvme": checksums[0]}
        refused = await put(first["url"], damaged(parts[0]), first["headers"])
        assert refused.status_code == 400
        assert "BadDigest" in refused.text
        for url, data in ((first, parts[0]), (second, parts[1])):
            assert (await put(url["url"], data, url["headers"])).status_code == 200
        return session_id

    checked = await complete(api, caller, await upload(whole))
    assert checked.status_code == 201, checked.text
    asset = checked.json()["asset"]
    assert (asset["checksum_algorithm"], asset["checksum"]) == ("CRC64NVME", whole)

    other_whole = checksums[1]  # a CRC64NVME, but not the whole file's
    mismatch = await complete(api, caller, await upload(other_whole))
    assert mismatch.status_code == 422
    assert mismatch.json()["code"] == "checksum_mismatch"
