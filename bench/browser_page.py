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
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Response, async_playwright

from bench.common import write
from bench.data_plane import MiB, intake_upload, stack_env, write_random
from intake_client import tokens

CHROMIUM = os.environ.get("INTAKE_CHROMIUM", "/usr/bin/chromium")


async def page_upload(browser: Browser, url: str, path: Path, size: int) -> dict[str, Any]:
    """Pick → completed, timed outside the page; transfer ends at the last part's 200."""
    token = tokens.mint(f"bench-{uuid.uuid4().hex[:8]}", ["bench"], user_id="bench")
    context = await browser.new_context()
    last_part = [0.0]

    def on_response(response: Response) -> None:
        if response.request.method == "PUT" and "/temp/uploads/" in response.url:
            last_part[0] = time.perf_counter()

    context.on("response", on_response)
    try:
        page = await context.new_page()
        await page.goto(f"{url}/#token={token}")
        await page.get_by_test_id("add-asset-button").click()
        started = time.perf_counter()
        await page.get_by_test_id("file-input").set_input_files(path)
        row = page.locator(f'[data-testid="upload-row"][data-file-name="{path.name}"]')
        await row.and_(page.locator('[data-status="completed"], [data-status="failed"]')).wait_for(
            timeout=600_000
        )
        wall = time.perf_counter() - started
        status = await row.get_attribute("data-status")
    finally:
        await context.close()
    return {
        "status": status,
        "wall_s": round(wall, 3),
        "transfer_s": round(last_part[0] - started, 3),
        "end_to_end_mib_s": round(size / MiB / wall, 1),
        "transfer_mib_s": round(size / MiB / max(last_part[0] - started, 1e-9), 1),
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
