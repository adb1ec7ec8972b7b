"""A host app for @intake/uploader: the package's built dist/ imported into a page of the
gateway's origin, driven from the test. Nothing is added to the gateway: the page is its upload
page (a real loopback document, so Chromium lets it reach the loopback bucket, whose CSP lets
same-origin scripts run), and the package's files come through Playwright's routing."""

from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page, Route

from tests.conftest import System

WEB = Path(__file__).resolve().parents[2] / "web"
ROOTS = {"dist": WEB / "dist", "hash-wasm": WEB / "node_modules" / "hash-wasm" / "dist"}
PREFIX = "/harness/"

# What a host app does: create the uploader (with the host's own resume storage when an init
# script set `window.hostStorage`), listen to its events, add what the user picked.
START = """async ([brandId, extra]) => {
  const { createUploader } = await import("/harness/dist/index.js");
  const input = document.createElement("input");
  input.type = "file";
  input.multiple = true;
  input.id = "files";
  document.body.append(input);
  window.events = [];
  window.uploader = createUploader({
    endpoint: location.origin,
    getToken: () => window.hostToken(),
    brandId,
    ...(window.hostStorage ? { storage: window.hostStorage } : {}),
    ...extra,
  });
  for (const name of ["status", "progress", "completed", "failed"]) {
    window.uploader.on(name, (payload) => window.events.push({ name, ...payload }));
  }
}"""


def _file_under(root: Path, relative: str) -> Path | None:
    path = (root / relative).resolve()
    return path if path.is_file() and path.is_relative_to(root.resolve()) else None


async def _serve(route: Route) -> None:
    """The package's files; its one bare import is mapped as a host's bundler would map it."""
    root, _, rest = route.request.url.split(PREFIX, 1)[1].split("?", 1)[0].partition("/")
    found = _file_under(ROOTS[root], rest) if root in ROOTS else None
    if found is None:
        await route.fulfill(status=404, body="not found")
        return
    body = found.read_text().replace('from "hash-wasm"', 'from "/harness/hash-wasm/index.esm.js"')
    await route.fulfill(body=body, content_type="text/javascript")


async def host_page(
    context: BrowserContext, system: System, tokens: Any, brand_id: str, **extra: Any
) -> Page:
    """The host app at the gateway's origin; `tokens()` is what its getToken returns each call."""
    await context.route(f"{system.gateway_url}{PREFIX}**", _serve)
    page = await context.new_page()
    await page.expose_function("hostToken", tokens)
    await page.goto(f"{system.gateway_url}/")
    await page.evaluate(START, [brand_id, extra])
    return page


async def add_files(page: Page, *paths: Path) -> list[str]:
    await page.locator("#files").set_input_files(list(paths))
    ids: list[str] = await page.evaluate(
        "() => window.uploader.add([...document.getElementById('files').files])"
    )
    return ids


async def events(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.evaluate("window.events")
    return found
