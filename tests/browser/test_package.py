"""@intake/uploader in a host app page in real Chromium: uploads, events, and token refresh."""

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from playwright.async_api import BrowserContext, Response, Route

from intake_client import tokens
from tests.browser.conftest import (
    PARTS,
    MiB,
    PartLog,
    assets_of,
    digest,
    part_number,
    promoted_asset,
    random_file,
    reading,
    stored_digest,
)
from tests.browser.harness import add_files, events, host_page
from tests.conftest import Caller, System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def fixed_token(caller: Caller) -> Any:
    return lambda: caller.token


async def completed_events(page: Any, count: int) -> list[dict[str, Any]]:
    return await eventually(
        lambda: events(page),
        lambda seen: len([e for e in seen if e["name"] in ("completed", "failed")]) >= count,
        timeout_s=120,
    )


async def test_two_files_one_multipart_each_complete_with_exactly_one_asset(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path, s3: Any, db: Any
) -> None:
    small = random_file(tmp_path / "still.jpg", MiB)
    large = random_file(tmp_path / "clip.mov", 12 * MiB)  # 2 parts of 8 MiB
    page = await host_page(context, system, fixed_token(caller), caller.brand_id)

    ids = await add_files(page, small, large)

    seen = await completed_events(page, 2)
    finished = {e["fileName"]: e for e in seen if e["name"] == "completed"}
    assert sorted(finished) == sorted([small.name, large.name]), [
        e["error"] for e in seen if e["name"] == "failed"
    ]
    assert [e for e in seen if e["name"] == "failed"] == []
    assert sorted(e["id"] for e in finished.values()) == sorted(ids)
    for path in (small, large):
        event = finished[path.name]
        asset = await promoted_asset(db, event["sessionId"])
        assert len(await assets_of(db, event["sessionId"])) == 1
        assert str(asset["asset_id"]) == event["assetId"]
        assert stored_digest(s3, asset) == digest(path.read_bytes())
    views = await page.evaluate("window.uploader.views().map((v) => [v.fileName, v.status])")
    assert sorted(views) == sorted([[small.name, "completed"], [large.name, "completed"]])


async def test_events_of_a_multipart_upload_and_of_a_refused_file_come_in_order(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path
) -> None:
    large = random_file(tmp_path / "reel.mp4", 20 * MiB)  # 3 parts
    page = await host_page(context, system, fixed_token(caller), caller.brand_id)

    (upload_id,) = await add_files(page, large)
    await completed_events(page, 1)
    refused = tmp_path / "page.html"
    refused.write_text("<script>alert(1)</script>")
    (refused_id,) = await add_files(page, refused)  # HTML is refused by the gateway's policy
    seen = await completed_events(page, 2)

    mine = [e for e in seen if e["id"] == upload_id]
    statuses = [(e["previous"], e["status"]) for e in mine if e["name"] == "status"]
    assert statuses == [(None, "queued"), ("queued", "uploading"), ("uploading", "completed")]
    progress = [e["bytes"] for e in mine if e["name"] == "progress"]
    assert progress == sorted(progress)
    assert progress[-1] == large.stat().st_size
    assert all(e["total"] == large.stat().st_size for e in mine if e["name"] == "progress")
    names = [e["name"] for e in mine]
    # every byte is reported before the upload is called completed, and `completed` comes last
    assert names.index("completed") == len(names) - 1
    assert names.count("completed") == 1
    assert "failed" not in names
    last_progress = len(names) - 1 - names[::-1].index("progress")
    assert last_progress < names.index("completed")
    assert mine[-1]["assetId"]
    assert mine[-1]["sessionId"]

    theirs = [e for e in seen if e["id"] == refused_id]
    assert [(e["name"], e.get("status")) for e in theirs] == [
        ("status", "queued"),
        ("status", "failed"),
        ("failed", None),
    ]
    assert theirs[-1]["code"] == "mime_type_not_allowed", theirs[-1]
    assert theirs[-1]["sessionId"] is None


def token_of(caller: Caller, user: str, issued: int, expires: int) -> str:
    claims = {
        "sub": user,
        "tenant_id": caller.tenant_id,
        "brand_ids": [caller.brand_id],
        "permissions": [tokens.UPLOAD_PERMISSION],
        "iat": issued,
        "exp": expires,
    }
    return jwt.encode(claims, os.environ.get("INTAKE_JWT_SECRET") or tokens.DEV_SECRET)


async def test_a_token_refreshed_mid_upload_is_used_and_a_stale_one_is_asked_for_again(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path, s3: Any, db: Any
) -> None:
    large = random_file(tmp_path / "long.mov", 20 * MiB)  # 3 parts
    user = f"user-{uuid.uuid4().hex[:8]}"
    now = int(time.time())
    stale = token_of(caller, user, now - 600, now - 300)  # long expired: the gateway answers 401
    first = token_of(caller, user, now, now + 3600)
    refreshed = token_of(caller, user, now + 1, now + 3601)
    rotated = [False]
    asked: list[str] = []

    sent: list[tuple[str, str, int]] = []  # (token, path, status) of every gateway API call

    def host_token() -> str:
        """The host's token source: its cached token is stale until the gateway refuses it,
        then `first`, until the host's identity provider rotates it mid-upload."""
        refused = any(status == 401 for _, _, status in sent)
        token = refreshed if rotated[0] else first if refused else stale
        asked.append(token)
        return token

    def record(response: Response) -> None:
        if "/app/" in response.url:
            bearer = response.request.headers.get("authorization", "").removeprefix("Bearer ")
            sent.append((bearer, response.url.split("/app/", 1)[1], response.status))

    context.on("response", record)
    parts = PartLog(context)
    holding = [True]

    async def hold_after_first(route: Route) -> None:
        while holding[0] and part_number(route.request.url) != 1:
            await asyncio.sleep(0.2)
        await route.continue_()

    await context.route(PARTS, hold_after_first)
    page = await host_page(context, system, host_token, caller.brand_id)

    await add_files(page, large)
    await eventually(reading(lambda: parts.stored), lambda stored: stored == [1], timeout_s=120)
    rotated[0] = True  # the host's identity provider hands out a new token mid-upload
    holding[0] = False

    seen = await completed_events(page, 1)
    done = [e for e in seen if e["name"] == "completed"]
    assert len(done) == 1, seen
    assert asked[0] == stale
    assert sent[:2] == [
        (stale, "uploads/initiate-batch", 401),
        (first, "uploads/initiate-batch", 200),
    ]
    complete = [(token, status) for token, path, status in sent if path == "assets/upload/complete"]
    assert complete == [(refreshed, 201)]  # asked for per request: no 401 before it
    assert all(status < 400 for _, _, status in sent[1:])
    asset = await promoted_asset(db, done[0]["sessionId"])
    assert len(await assets_of(db, done[0]["sessionId"])) == 1
    assert stored_digest(s3, asset) == digest(large.read_bytes())


# A host's resume storage that is slow: every save waits until the test releases them, and
# forgetting a finished upload never ends.
SLOW_STORAGE = """
window.storageCalls = [];
const released = new Promise((resolve) => { window.releaseSaves = resolve; });
window.hostStorage = {
  claim: async () => [],
  save: async (upload) => { window.storageCalls.push("save"); await released; },
  saveBlob: async () => { window.storageCalls.push("saveBlob"); await released; },
  blob: async () => null,
  remove: () => { window.storageCalls.push("remove"); return new Promise(() => {}); },
};
"""
COMPLETE = "**/app/assets/upload/complete"


async def test_a_slow_resume_store_gets_one_waiting_save_and_never_delays_completed(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path
) -> None:
    large = random_file(tmp_path / "slow-store.mov", 40 * MiB)  # 5 parts of 8 MiB
    completing = asyncio.Event()
    go_on = asyncio.Event()

    async def hold_complete(route: Route) -> None:
        completing.set()  # every part is stored and reported to the store by now
        await go_on.wait()
        await route.continue_()

    await context.route(COMPLETE, hold_complete)
    await context.add_init_script(SLOW_STORAGE)
    page = await host_page(
        context, system, fixed_token(caller), caller.brand_id, persistLimit=0
    )  # its record only, not its bytes
    await page.evaluate(
        "() => { window.shown = []; window.uploader.on('change', ({ uploads }) =>"
        " window.shown.push(...uploads.map((upload) => upload.status))); }"
    )

    await add_files(page, large)
    await asyncio.wait_for(completing.wait(), timeout=120)
    assert await page.evaluate("window.storageCalls") == ["save"]  # the new upload's, held
    await page.evaluate("window.releaseSaves()")
    await eventually(lambda: page.evaluate("window.storageCalls.length"), lambda n: n >= 2)
    go_on.set()

    await completed_events(page, 1)
    shown = await eventually(
        lambda: page.evaluate("window.shown"), lambda seen: "completed" in seen
    )
    assert "completed" in shown  # shown although the store never finishes forgetting it
    # five parts reported while one save waited: one more save records them all
    assert await page.evaluate("window.storageCalls") == ["save", "save", "remove"]
