"""Per-part checksums in the browser: each part is hashed in a worker, signed with its CRC32C
(the package's default) and sent with the header the signed URL lists; a part S3 refuses for a
bad digest is read and sent again, and nothing else is.
"""

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import google_crc32c
import pytest
from playwright.async_api import BrowserContext, Request, Route, expect

from tests.browser.conftest import (
    MiB,
    PartLog,
    digest,
    flip_a_byte_once,
    open_page,
    part_number,
    pick,
    promoted_asset,
    random_file,
    row,
    stored_digest,
    upload_through,
)
from tests.browser.harness import add_files, events, host_page
from tests.browser.test_faults import cors_headers
from tests.conftest import Caller, System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

BAD_DIGEST = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>BadDigest</Code>'
    "<Message>The sha256 you specified did not match the calculated checksum.</Message></Error>"
)


def crc32c_b64(data: bytes) -> str:
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


class Signing:
    """Every part number the page asks to sign, and the checksums it sends with them."""

    def __init__(self, context: BrowserContext) -> None:
        self.parts: list[int] = []
        self.checksums: dict[int, list[str]] = {}
        context.on("request", self._on_request)

    def _on_request(self, request: Request) -> None:
        if "multipart-part-urls" not in request.url or request.post_data is None:
            return
        body = json.loads(request.post_data)
        self.parts.extend(body["part_numbers"])
        for number, checksum in zip(
            body["part_numbers"], body.get("checksums") or [], strict=False
        ):
            self.checksums.setdefault(number, []).append(checksum)


async def test_a_part_refused_for_a_bad_digest_is_signed_and_sent_again_alone(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path, s3: Any, db: Any
) -> None:
    video = random_file(tmp_path / "digest.mp4", 20 * MiB)  # 3 parts
    refusals = {2: 1}
    signing = Signing(context)
    parts = PartLog(context)

    async def refuse_part_two_once(route: Route) -> None:
        number = part_number(route.request.url) or 0
        if refusals.get(number):
            refusals[number] -= 1
            await route.fulfill(status=400, body=BAD_DIGEST, headers=cors_headers(route))
        else:
            await route.continue_()

    page = await upload_through(context, system, caller, refuse_part_two_once, video)

    await expect(row(page, video.name)).to_have_attribute(
        "data-status", "completed", timeout=120_000
    )
    assert sorted(parts.sent) == [1, 2, 2, 3]  # part 2 again, and nothing else
    assert signing.parts.count(2) == 2  # signed anew (its checksum is read again)
    assert signing.parts.count(1) == signing.parts.count(3) == 1
    asset = await promoted_asset(db, await row(page, video.name).get_attribute("data-session-id"))
    assert stored_digest(s3, asset) == digest(video.read_bytes())


async def test_each_part_is_signed_and_sent_with_its_crc32c(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path, s3: Any, db: Any
) -> None:
    video = random_file(tmp_path / "checked.mp4", 20 * MiB)  # parts of 8, 8 and 4 MiB
    data = video.read_bytes()
    expected = {n: crc32c_b64(data[(n - 1) * 8 * MiB : n * 8 * MiB]) for n in (1, 2, 3)}
    sent_headers: dict[int, str | None] = {}
    context.on(
        "request",
        lambda request: (
            sent_headers.__setitem__(
                part_number(request.url) or 0, request.headers.get("x-amz-checksum-crc32c")
            )
            if request.method == "PUT" and part_number(request.url)
            else None
        ),
    )
    signing = Signing(context)
    page = await open_page(context, system, caller)
    await pick(page, video)

    await expect(row(page, video.name)).to_have_attribute(
        "data-status", "completed", timeout=120_000
    )
    assert {n: checksums[0] for n, checksums in signing.checksums.items()} == expected
    assert sent_headers == expected
    asset = await promoted_asset(db, await row(page, video.name).get_attribute("data-session-id"))
    assert stored_digest(s3, asset) == digest(data)
    # FULL_OBJECT: S3 reports the whole object's CRC32C, which the Asset records.
    assert (asset["checksum_algorithm"], asset["checksum"]) == ("CRC32C", crc32c_b64(data))


async def test_wrong_bytes_of_one_part_are_refused_by_s3_and_that_part_is_sent_again(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path, s3: Any, db: Any
) -> None:
    video = random_file(tmp_path / "corrupted.mp4", 20 * MiB)
    parts = PartLog(context)
    page = await upload_through(context, system, caller, flip_a_byte_once({2}), video)

    await expect(row(page, video.name)).to_have_attribute(
        "data-status", "completed", timeout=120_000
    )
    assert (2, 400) in parts.answers  # S3 itself refused the wrong bytes
    assert sorted(parts.sent) == [1, 2, 2, 3]
    asset = await promoted_asset(db, await row(page, video.name).get_attribute("data-session-id"))
    assert stored_digest(s3, asset) == digest(video.read_bytes())


async def test_a_sha256_upload_of_the_package_completes_with_every_parts_checksum(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path, s3: Any, db: Any
) -> None:
    """SHA256 makes the multipart upload COMPOSITE in S3: `complete` names each part's
    SHA-256, and the Asset records S3's composite value (no whole-file SHA-256 declared)."""
    video = random_file(tmp_path / "sha256.mp4", 20 * MiB)  # parts of 8, 8 and 4 MiB
    data = video.read_bytes()
    chunks = {n: data[(n - 1) * 8 * MiB : n * 8 * MiB] for n in (1, 2, 3)}
    completes: list[dict[str, Any]] = []
    context.on(
        "request",
        lambda request: (
            completes.append(json.loads(request.post_data or "{}"))
            if request.url.endswith("/app/assets/upload/complete")
            else None
        ),
    )
    page = await host_page(
        context, system, lambda: caller.token, caller.brand_id, checksumAlgorithm="SHA256"
    )
    await add_files(page, video)

    seen = await eventually(
        lambda: events(page),
        lambda found: any(e["name"] in ("completed", "failed") for e in found),
        timeout_s=120,
    )
    [finished] = [e for e in seen if e["name"] in ("completed", "failed")]
    assert finished["name"] == "completed", finished
    [body] = completes
    assert body["parts"] == [
        {"part_number": n, "etag": etag_of(chunk), "checksum": b64_sha256(chunk)}
        for n, chunk in chunks.items()
    ]
    asset = await promoted_asset(db, finished["sessionId"])
    assert stored_digest(s3, asset) == digest(data)
    digests = b"".join(hashlib.sha256(chunk).digest() for chunk in chunks.values())
    assert (asset["checksum_algorithm"], asset["checksum"]) == (
        "SHA256",
        f"{b64_sha256(digests)}-3",
    )


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def etag_of(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
