"""The upload page in real Chromium: uploads from one pick, resume after reload, re-pick."""

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Route, expect

from tests.browser.conftest import (
    PARTS,
    MiB,
    PartLog,
    digest,
    open_page,
    part_number,
    pick,
    promoted_asset,
    random_file,
    reading,
    row,
    stored_digest,
    upload_through,
)
from tests.conftest import Caller, System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_small_and_40_mib_files_from_one_pick_complete(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path, s3: Any, db: Any
) -> None:
    small = tmp_path / "notes.txt"
    small.write_bytes(b"hello from the browser\n" * 100)
    large = random_file(tmp_path / "footage.bin", 40 * MiB)
    page = await open_page(context, system, caller)

    await pick(page, small, large)

    for path in (small, large):
        await expect(row(page, path.name)).to_have_attribute(
            "data-status", "completed", timeout=120_000
        )
        session_id = await row(page, path.name).get_attribute("data-session-id")
        asset = await promoted_asset(db, session_id)
        assert str(asset["asset_id"]) == await row(page, path.name).get_attribute("data-asset-id")
        assert stored_digest(s3, asset) == digest(path.read_bytes())


async def test_reload_after_two_of_five_parts_resumes_with_only_the_missing_parts(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path, s3: Any, db: Any
) -> None:
    large = random_file(tmp_path / "interview.mov", 40 * MiB)  # 5 parts of 8 MiB
    parts = PartLog(context)
    holding = [True]

    async def first_two_only(route: Route) -> None:
        if part_number(route.request.url) in {1, 2} or not holding[0]:
            await route.continue_()
        # else never answered: the reload cuts these parts off before they reach S3

    page = await upload_through(context, system, caller, first_two_only, large)
    await eventually(
        reading(lambda: sorted(parts.stored)), lambda stored: stored == [1, 2], timeout_s=120
    )
    await expect(row(page, large.name)).to_have_attribute("data-persisted", "true")
    stored_before = set(parts.stored)
    parts.sent.clear()

    await page.reload()
    holding[0] = False

    await expect(row(page, large.name)).to_have_attribute(
        "data-status", "completed", timeout=120_000
    )
    assert sorted(parts.sent) == [3, 4, 5]  # no user action, and nothing S3 held was sent again
    assert stored_before == {1, 2}
    asset = await promoted_asset(db, await row(page, large.name).get_attribute("data-session-id"))
    assert stored_digest(s3, asset) == digest(large.read_bytes())


async def test_a_file_above_the_persistence_size_asks_to_be_picked_again(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path
) -> None:
    large = random_file(tmp_path / "master.wav", 12 * MiB)  # 2 parts; kept limit: 1 MiB
    impostor_dir = tmp_path / "other"
    impostor_dir.mkdir()
    impostor = random_file(impostor_dir / "master.wav", 12 * MiB)
    parts = PartLog(context)
    holding = [True]

    async def first_only(route: Route) -> None:
        if part_number(route.request.url) == 1 or not holding[0]:
            await route.continue_()
        # else never answered: the reload cuts part 2 off before it reaches S3

    await context.route(PARTS, first_only)
    page = await open_page(context, system, caller, f"?persistLimit={MiB}")
    await pick(page, large)
    await eventually(reading(lambda: parts.stored), lambda stored: stored == [1], timeout_s=120)
    await expect(row(page, large.name)).to_have_attribute("data-persisted", "true")

    await page.reload()
    holding[0] = False

    prompt = row(page, large.name).get_by_test_id("resume-prompt")
    await expect(prompt).to_be_visible()
    await expect(prompt).to_contain_text(large.name)
    await prompt.get_by_test_id("resume-file-input").set_input_files(impostor)
    await expect(row(page, large.name).get_by_test_id("row-error")).to_contain_text(
        "is not the file this upload started with"
    )
    await expect(prompt).to_be_visible()
    parts.sent.clear()

    await prompt.get_by_test_id("resume-file-input").set_input_files(large)

    await expect(row(page, large.name)).to_have_attribute(
        "data-status", "completed", timeout=120_000
    )
    assert parts.sent == [2]


async def test_verified_upload_sends_the_sha256_completion_checks(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path, db: Any
) -> None:
    photo = random_file(tmp_path / "verified.tif", 6 * MiB)
    page = await open_page(context, system, caller)
    await page.get_by_test_id("add-asset-button").click()
    await page.get_by_test_id("verify-checksum").check()

    await page.get_by_test_id("file-input").set_input_files(photo)

    await expect(row(page, photo.name)).to_have_attribute(
        "data-status", "completed", timeout=120_000
    )
    asset = await promoted_asset(db, await row(page, photo.name).get_attribute("data-session-id"))
    assert asset["checksum_sha256"] == digest(photo.read_bytes())
