"""docs/upload-dialog.png: the upload dialog mid-upload, from a running system (`make up`).

    uv run python scripts/page_screenshot.py [--url http://127.0.0.1:8000]

Parts after the second of the large file are held back so the picture shows it mid-way;
the uploads are cancelled afterwards.
"""

import argparse
import asyncio
import os
import tempfile
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Route, async_playwright

from intake_client import tokens

MiB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("INTAKE_CHROMIUM", "/usr/bin/chromium")


async def hold_late_parts(route: Route) -> None:
    number = parse_qs(urlsplit(route.request.url).query).get("partNumber", ["0"])[0]
    if int(number) <= 2:
        await route.continue_()


async def shoot(url: str, folder: Path, target: Path) -> None:
    files = {"brand-guide.pdf": 2 * MiB, "launch-teaser.mp4": 40 * MiB, "studio-raw.tif": 6 * MiB}
    for name, size in files.items():
        (folder / name).write_bytes(os.urandom(size))
    token = tokens.mint(f"demo-{uuid.uuid4().hex[:8]}", ["brand-demo"], user_id="demo-user")
    async with async_playwright() as playwright:
        no_sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=no_sandbox)
        context = await browser.new_context(viewport={"width": 980, "height": 620})
        await context.route("**/temp/uploads/**", hold_late_parts)
        page = await context.new_page()
        await page.goto(f"{url}/#token={token}")
        await page.get_by_test_id("add-asset-button").click()
        await page.get_by_test_id("file-input").set_input_files([folder / n for n in files])
        rows = page.get_by_test_id("upload-row")
        await rows.and_(page.locator('[data-status="completed"]')).first.wait_for()
        await page.locator('[data-file-name="launch-teaser.mp4"] progress[value^="0.4"]').wait_for()
        await page.screenshot(path=str(target))
        for button in await page.get_by_test_id("cancel-button").all():
            if await button.is_visible():
                await button.click()
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("INTAKE_URL", "http://127.0.0.1:8000"))
    args = parser.parse_args()
    target = ROOT / "docs" / "upload-dialog.png"
    with tempfile.TemporaryDirectory(prefix="intake-shot-") as folder:
        asyncio.run(shoot(args.url, Path(folder), target))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
