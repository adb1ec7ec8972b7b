"""The upload page in headless Chromium beside the Python client: one 256 MiB file each, on
the same running system (`make up`), alternating, best of `--rounds`. Target: the page reaches
at least 0.8x the client's end-to-end rate; both with their default per-part checksums.

    uv run python -m bench.browser_page [--url http://127.0.0.1:8000] [--size-mib 256]
"""

import argparse
import asyncio
import contextlib
import http.server
import os
import subprocess
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, async_playwright

from bench.common import write
from bench.data_plane import MiB, intake_upload, stack_env, write_random
from intake_client import tokens

CHROMIUM = os.environ.get("INTAKE_CHROMIUM", "/usr/bin/chromium")


# Timed inside the page, on the page's own clock: from the file input's change to the row
# showing an end status (a MutationObserver), and to the last part's answer (resource timing).
# Waiting on a locator from the driver would add its polling interval, up to 0.5 s.
STOPWATCH = """(fileName) => {
  const input = document.querySelector('[data-testid="file-input"]');
  window.__bench = new Promise((resolve) => {
    let started = 0;
    input.addEventListener("change", () => { started = performance.now(); }, { capture: true });
    new MutationObserver(() => {
      const rows = document.querySelectorAll('[data-testid="upload-row"]');
      const status = [...rows].find((row) => row.dataset.fileName === fileName)?.dataset.status;
      if (status !== "completed" && status !== "failed") return;
      const ended = performance.now();
      const answers = performance.getEntriesByType("resource")
        .filter((part) => part.name.includes("/temp/uploads/") && part.startTime >= started)
        .map((part) => part.responseEnd);
      const lastPart = Math.max(started, ...answers);
      const seconds = (until) => (until - started) / 1000;
      resolve({ status, wall_s: seconds(ended), transfer_s: seconds(lastPart) });
    }).observe(document.body, { subtree: true, attributeFilter: ["data-status"] });
  });
}"""


async def page_upload(browser: Browser, url: str, path: Path, size: int) -> dict[str, Any]:
    """Pick → completed; transfer ends at the last part's answer."""
    token = tokens.mint(f"bench-{uuid.uuid4().hex[:8]}", ["bench"], user_id="bench")
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(f"{url}/#token={token}")
        await page.get_by_test_id("add-asset-button").click()
        await page.evaluate(STOPWATCH, path.name)
        await page.get_by_test_id("file-input").set_input_files(path)
        timed = await page.evaluate("window.__bench")
    finally:
        await context.close()
    wall, transfer = timed["wall_s"], max(timed["transfer_s"], 1e-9)
    return {
        "status": timed["status"],
        "wall_s": round(wall, 3),
        "transfer_s": round(transfer, 3),
        "end_to_end_mib_s": round(size / MiB / wall, 1),
        "transfer_mib_s": round(size / MiB / transfer, 1),
    }


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium under Playwright (no sandbox when run as root), closed after."""
    async with async_playwright() as playwright:
        no_sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=no_sandbox)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.contextmanager
def loopback_origin(
    port: int, handler: Callable[..., http.server.BaseHTTPRequestHandler]
) -> Iterator[str]:
    """A web origin of its own on 127.0.0.1 (a secure context for Chromium), served by
    `handler` on a thread, for a page the benchmark opens; closed after."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def chromium_version() -> str:
    answer = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=False)
    return answer.stdout.strip().splitlines()[-1] if answer.stdout.strip() else "unknown"


async def measure(args: argparse.Namespace, path: Path, size: int, folder: Path) -> dict[str, Any]:
    rounds: list[dict[str, Any]] = []
    async with chromium() as browser:
        for _ in range(args.rounds):
            page = await page_upload(browser, args.url, path, size)
            client = intake_upload(path, args, stack_env(), folder)
            rounds.append({"page": page, "python_client": client})
    best_page = max(r["page"]["end_to_end_mib_s"] for r in rounds)
    best_client = max(r["python_client"]["end_to_end_mib_s"] for r in rounds)
    return {
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "file_bytes": size,
        "page_parts_in_flight": 4,
        "client_parallel": args.parallel,
        "best_page_end_to_end_mib_s": best_page,
        "best_client_end_to_end_mib_s": best_client,
        "page_vs_client": round(best_page / best_client, 2),
        "target_page_vs_client": 0.8,
        "browser": chromium_version(),
        "playwright": _version("playwright"),
        "rounds": rounds,
    }


def _version(name: str) -> str:
    from importlib import metadata

    return metadata.version(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("INTAKE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="intake-bench-", dir="/tmp") as folder:
        path = Path(folder) / "page-256mib.bin"
        write_random(path, args.size_mib * MiB)
        figures = asyncio.run(measure(args, path, args.size_mib * MiB, Path(folder)))
    print(
        f"page {figures['best_page_end_to_end_mib_s']} MiB/s vs client "
        f"{figures['best_client_end_to_end_mib_s']} MiB/s ({figures['page_vs_client']}x)"
    )
    print(f"written to {write('browser_page', figures)}")


if __name__ == "__main__":
    main()
