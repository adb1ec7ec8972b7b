"""The page's stored uploads belong to one tenant and user: the next user of the same browser
profile neither sees nor keeps them, and switching tokens in a page drops them."""

from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, Route, expect

from intake_client import tokens
from tests.browser.conftest import (
    MiB,
    PartLog,
    open_page,
    part_number,
    random_file,
    reading,
    row,
    upload_through,
)
from tests.conftest import Caller, System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

STORED = """() => new Promise((resolve, reject) => {
  const opened = indexedDB.open("intake-uploads");
  opened.onerror = () => reject(opened.error);
  opened.onsuccess = () => {
    const db = opened.result;
    if (!db.objectStoreNames.contains("uploads")) { db.close(); resolve([]); return; }
    const all = db.transaction("uploads").objectStore("uploads").getAll();
    all.onsuccess = () => { db.close(); resolve(all.result.map((u) => [u.scope, u.fileName])); };
  };
})"""


async def stored(page: Page) -> list[list[str]]:
    found: list[list[str]] = await page.evaluate(STORED)
    return found


def other_user(caller: Caller) -> Caller:
    """The same tenant and brand, another user."""
    token = tokens.mint(caller.tenant_id, [caller.brand_id], user_id="second-user")
    return Caller(caller.tenant_id, caller.brand_id, token)


async def persisted_upload_held_at_part_two(
    context: BrowserContext, system: System, caller: Caller, tmp_path: Path
) -> tuple[Page, Path]:
    """A 2-part upload whose second part never reaches S3: kept in IndexedDB, unfinished."""
    large = random_file(tmp_path / "contract.pdf", 12 * MiB)
    parts = PartLog(context)

    async def first_only(route: Route) -> None:
        if part_number(route.request.url) == 1:
            await route.continue_()
        # else never answered: the upload stays unfinished

    page = await upload_through(context, system, caller, first_only, large)
    await eventually(reading(lambda: parts.stored), lambda done: done == [1], timeout_s=120)
    await expect(row(page, large.name)).to_have_attribute("data-persisted", "true")
    assert [name for _, name in await stored(page)] == [large.name]
    return page, large


async def test_the_next_user_of_the_browser_sees_none_of_the_first_users_uploads(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path
) -> None:
    first_page, _ = await persisted_upload_held_at_part_two(context, system, caller, tmp_path)
    await first_page.close()

    second = await open_page(context, system, other_user(caller))
    await expect(second.get_by_test_id("token-state")).to_have_text(f"brand {caller.brand_id}")

    await eventually(lambda: stored(second), lambda records: records == [], timeout_s=30)
    assert await second.get_by_test_id("upload-row").count() == 0
    await second.close()

    # and the first user, back on this profile, finds them gone: cleared when the user changed
    again = await open_page(context, system, caller)
    await expect(again.get_by_test_id("token-state")).to_have_text(f"brand {caller.brand_id}")
    await eventually(lambda: stored(again), lambda records: records == [], timeout_s=30)
    assert await again.get_by_test_id("upload-row").count() == 0


async def test_pasting_another_users_token_drops_the_earlier_users_rows_and_records(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path
) -> None:
    page, large = await persisted_upload_held_at_part_two(context, system, caller, tmp_path)
    await expect(row(page, large.name)).to_have_count(1)
    await page.get_by_role("button", name="Close").click()  # the token field is behind the dialog

    await page.get_by_test_id("token-input").fill(other_user(caller).token)
    await page.get_by_test_id("token-input").press("Enter")

    await expect(row(page, large.name)).to_have_count(0)
    await eventually(lambda: stored(page), lambda records: records == [], timeout_s=30)


async def test_the_same_user_after_a_reload_still_gets_the_upload_back(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path
) -> None:
    page, large = await persisted_upload_held_at_part_two(context, system, caller, tmp_path)
    scope_before = (await stored(page))[0][0]

    await page.reload()

    await expect(row(page, large.name)).to_have_count(1)
    assert await stored(page) == [[scope_before, large.name]]
    assert (
        scope_before == f'["{caller.tenant_id}","{tokens.unverified_claims(caller.token)["sub"]}"]'
    )
