"""The page under storage faults: expired URL, 500s, going offline, and cancel mid-upload."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from playwright.async_api import BrowserContext, Route, expect

from tests.browser.conftest import (
    PARTS,
    MiB,
    PartLog,
    part_number,
    random_file,
    reading,
    row,
    upload_through,
)
from tests.conftest import Caller, System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

EXPIRED = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
    "<Message>Request has expired</Message></Error>"
)


def cors_headers(route: Route) -> dict[str, str]:
    """A faked S3 answer must carry CORS headers, or the page cannot read it either."""
    origin = route.request.headers.get("origin", "*")
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": "ETag"}


async def test_expired_url_is_signed_again_and_500s_are_retried(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path
) -> None:
    video = random_file(tmp_path / "expiring.mp4", 12 * MiB)  # 2 parts
    faults = {1: [403], 2: [500, 500]}
    signing: list[str] = []
    context.on(
        "request",
        lambda request: (
            signing.append(request.url) if "multipart-part-urls" in request.url else None
        ),
    )
    parts = PartLog(context)

    async def faulty(route: Route) -> None:
        pending = faults.get(part_number(route.request.url) or 0)
        if pending:
            status = pending.pop(0)
            body = EXPIRED if status == 403 else "<Error><Code>InternalError</Code></Error>"
            await route.fulfill(status=status, body=body, headers=cors_headers(route))
        else:
            await route.continue_()

    page = await upload_through(context, system, caller, faulty, video)

    await expect(row(page, video.name)).to_have_attribute(
        "data-status", "completed", timeout=120_000
    )
    assert faults == {1: [], 2: []}
    assert sorted(parts.sent) == [1, 1, 2, 2, 2]
    assert len(signing) >= 2  # part 1 was signed again after its URL "expired"


async def test_bad_signature_fails_the_file_clearly_and_retry_finishes_it(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path
) -> None:
    photo = random_file(tmp_path / "tampered.jpg", MiB)  # one direct PUT
    refused = "<Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>"

    async def bad_signature(route: Route) -> None:
        await route.fulfill(status=403, body=refused, headers=cors_headers(route))

    page = await upload_through(context, system, caller, bad_signature, photo)
    await expect(row(page, photo.name)).to_have_attribute("data-status", "failed")
    await expect(row(page, photo.name).get_by_test_id("row-error")).to_contain_text(
        "SignatureDoesNotMatch"
    )
    await context.unroute(PARTS)

    await row(page, photo.name).get_by_test_id("retry-button").click()

    await expect(row(page, photo.name)).to_have_attribute(
        "data-status", "completed", timeout=120_000
    )
    assert await row(page, photo.name).get_attribute("data-asset-id")


async def test_offline_pauses_the_upload_and_online_finishes_it(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path
) -> None:
    video = random_file(tmp_path / "commute.mp4", 12 * MiB)
    cut = asyncio.Event()

    async def cut_on_second_part(route: Route) -> None:
        if part_number(route.request.url) == 2 and not cut.is_set():
            cut.set()
            await context.set_offline(True)
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    page = await upload_through(context, system, caller, cut_on_second_part, video)
    await expect(row(page, video.name)).to_have_attribute("data-status", "paused", timeout=120_000)

    await asyncio.sleep(5)  # the link stays down for a while; the page must just wait
    await expect(row(page, video.name)).to_have_attribute("data-status", "paused")
    await context.set_offline(False)

    await expect(row(page, video.name)).to_have_attribute(
        "data-status", "completed", timeout=120_000
    )


async def test_cancel_mid_upload_cancels_the_session_and_aborts_the_multipart_upload(
    system: System,
    context: BrowserContext,
    caller: Caller,
    tmp_path: Path,
    api: Any,
    s3: Any,
    bucket: str,
) -> None:
    video = random_file(tmp_path / "mistake.mp4", 12 * MiB)
    parts = PartLog(context)

    async def only_first(route: Route) -> None:
        if part_number(route.request.url) == 1:
            await route.continue_()  # the others hang: the upload is mid-way when cancelled

    page = await upload_through(context, system, caller, only_first, video)
    await eventually(reading(lambda: parts.stored), lambda stored: stored == [1], timeout_s=120)

    await row(page, video.name).get_by_test_id("cancel-button").click()

    await expect(row(page, video.name)).to_have_attribute("data-status", "cancelled")
    session_id = await row(page, video.name).get_attribute("data-session-id")
    view = await eventually(
        lambda: _session(api, caller, session_id),
        lambda view: view["status"] == "CANCELLED",
        timeout_s=60,
    )
    upload_id = view["multipart"]["upload_id"]
    with pytest.raises(ClientError) as refused:
        s3.list_parts(Bucket=bucket, Key=f"temp/uploads/{session_id}/original", UploadId=upload_id)
    assert refused.value.response["Error"]["Code"] == "NoSuchUpload"


async def _session(api: Any, caller: Caller, session_id: str | None) -> dict[str, Any]:
    answer = await api.get(f"/app/uploads/{session_id}", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]
