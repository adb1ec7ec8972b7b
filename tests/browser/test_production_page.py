"""The upload page served by a gateway in production mode, in real Chromium: a token in the
address is dropped unread (a pasted one works), and `?persistLimit=` is ignored, while a local
gateway's page honours it."""

from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, Route, expect

from tests.browser.conftest import PARTS, open_page, pick, row
from tests.conftest import Caller, System
from tests.support.gateways import production_gateway, production_token

pytestmark = pytest.mark.e2e

# The file bytes the page keeps for a reload (IndexedDB "blobs"), however many.
KEPT_BLOBS = """() => new Promise((resolve, reject) => {
  const opened = indexedDB.open("intake-uploads");
  opened.onerror = () => reject(opened.error);
  opened.onsuccess = () => {
    const db = opened.result;
    if (!db.objectStoreNames.contains("blobs")) { db.close(); resolve(0); return; }
    const count = db.transaction("blobs").objectStore("blobs").count();
    count.onsuccess = () => { db.close(); resolve(count.result); };
  };
})"""


async def kept_blobs(page: Page) -> int:
    found: int = await page.evaluate(KEPT_BLOBS)
    return found


async def held(route: Route) -> None:
    """The PUT to storage is never answered: the upload stays unfinished, its record kept."""


async def persisted_small_file(page: Page, tmp_path: Path) -> int:
    """Pick a small file, wait until the page stored its record, and count kept file bytes."""
    small = tmp_path / "note.txt"
    small.write_bytes(b"kept for a reload, or not\n" * 40)
    await pick(page, small)
    # The bytes are saved before the record, and the row says persisted after the record.
    await expect(row(page, small.name)).to_have_attribute("data-persisted", "true")
    return await kept_blobs(page)


async def test_a_local_page_honours_persist_limit(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path
) -> None:
    await context.route(PARTS, held)
    page = await open_page(context, system, caller, "?persistLimit=0")
    assert await persisted_small_file(page, tmp_path) == 0


async def test_a_production_page_refuses_fragment_tokens_and_ignores_persist_limit(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path
) -> None:
    token = production_token(caller.token)
    await context.route(PARTS, held)
    with production_gateway(system, tmp_path) as gateway:
        page = await context.new_page()
        await page.goto(f"{gateway}/?persistLimit=0#token={token}")

        await expect(page.get_by_test_id("token-state")).to_contain_text("refused")
        assert "#token=" not in page.url
        assert await page.evaluate("sessionStorage.length") == 0

        await page.get_by_test_id("token-input").fill(token)
        await page.get_by_test_id("token-input").press("Enter")
        await expect(page.get_by_test_id("token-state")).to_have_text(f"brand {caller.brand_id}")
        # persistLimit=0 would keep no file's bytes; production keeps them by its default.
        assert await persisted_small_file(page, tmp_path) == 1
