"""@intake/uploader's own manager in headless Chromium against the Python client, like with
like: both with per-part checksums (each one's default, CRC32C; S3 verifies each part, which
`checksums_signed` records) and both without. One file each, on the same running system
(`make up`), alternating, best of `--rounds`, in one sitting. Targets: the package at least
0.8x the client (defaults); checksums on at least 0.9x off.

    uv run python -m bench.web_package [--url http://127.0.0.1:8000] [--sizes-mib 256,1024]
        [--client-cpu 1]

With --client-cpu, Chromium runs on that CPU and the system on the others (the package only,
results in web_package_client_apart.json): a user's browser does not share its CPUs with S3,
and on a machine that runs both, per-part checksums cost the browser CPU the upload lacks.

The package is web/dist (`make web`) and its one dependency, served as they are by a static
server on a loopback origin of their own (a host app's, http://127.0.0.1:3000, which the
gateway's and the bucket's default CORS rules grant), talking to the gateway across origins.
Nothing intercepts the page's requests: Playwright's routing (page.route) would pass every
request, part bodies included, through its driver.
"""

import argparse
import asyncio
import contextlib
import http.server
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Request

from bench.browser_page import chromium, chromium_version, loopback_origin
from bench.common import write
from bench.competitors import STATE
from bench.cpu import chromium_cpu_seconds, client_apart, machine_cpu_seconds, running_system_pids
from bench.data_plane import MiB, intake_upload, stack_env, write_random
from intake_client import tokens

WEB = Path(__file__).resolve().parents[1] / "web"
ROOTS = {"dist": WEB / "dist", "hash-wasm": WEB / "node_modules" / "hash-wasm" / "dist"}
# A host app's development origin's port, granted by the gateway's and the bucket's default
# CORS rules (http://127.0.0.1:3000).
HOST_APP_PORT = 3000
PAGE = b'<!doctype html><meta charset="utf-8"><title>bench</title><input type="file" id="files">'

# Create the uploader, add the file, resolve with the time from add() to `completed`.
UPLOAD = """async ([endpoint, brandId, token, checksums, partsPerFile]) => {
  const { createUploader } = await import("/dist/index.js");
  const input = document.getElementById("files");
  const uploader = createUploader({
    endpoint, getToken: () => token, brandId,
    ...(checksums ? {} : { checksumAlgorithm: null }), storage: null,
    ...(partsPerFile ? { partsPerFile } : {}),
  });
  const done = new Promise((resolve) => {
    uploader.on("completed", () => resolve("completed"));
    uploader.on("failed", (event) => resolve(`failed: ${event.error}`));
  });
  const started = performance.now();
  await uploader.add([...input.files]);
  const status = await done;
  const seconds = (performance.now() - started) / 1000;
  uploader.destroy();
  return { status, seconds };
}"""


class _HostApp(http.server.BaseHTTPRequestHandler):
    """`/` a page with a file input; `/dist/…` the package, `/hash-wasm/…` its dependency, with
    the package's bare import of it pointed there (what a host app's bundler resolves)."""

    def do_GET(self) -> None:
        root, _, rest = self.path.lstrip("/").partition("/")
        if root == "":
            self._answer(PAGE, "text/html")
            return
        base = ROOTS.get(root)
        path = (base / rest).resolve() if base else None
        if base is None or path is None or not path.is_file() or not path.is_relative_to(base):
            self.send_error(404)
            return
        body = path.read_text().replace('from "hash-wasm"', 'from "/hash-wasm/index.esm.js"')
        self._answer(body.encode(), "text/javascript")

    def _answer(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        return


async def package_upload(
    browser: Browser,
    origin: str,
    url: str,
    path: Path,
    *,
    checksums: bool,
    parts_per_file: int | None,
) -> dict[str, Any]:
    """`parts_per_file`: the package's parts in flight per file (None: its default)."""
    token = tokens.mint(f"bench-{uuid.uuid4().hex[:8]}", ["bench"], user_id="bench")
    context = await browser.new_context()
    signed_parts: list[bool] = []

    def on_request(request: Request) -> None:
        if request.method == "PUT" and "partNumber=" in request.url:
            signed_parts.append(any(h.startswith("x-amz-checksum-") for h in request.headers))

    context.on("request", on_request)
    try:
        page = await context.new_page()
        await page.goto(f"{origin}/")
        await page.locator("#files").set_input_files(path)
        started = (time.perf_counter(), chromium_cpu_seconds(), machine_cpu_seconds())
        result = await page.evaluate(UPLOAD, [url, "bench", token, checksums, parts_per_file])
        ended = (time.perf_counter(), chromium_cpu_seconds(), machine_cpu_seconds())
        wall, browser_cpu, machine_cpu = (b - a for a, b in zip(started, ended, strict=True))
    finally:
        await context.close()
    if result["status"] != "completed":
        # A failed upload ends early: its "speed" would be a fiction. A bucket CORS rule that
        # no longer grants the host app's origin (another Intake's, e.g. a test run's) fails
        # every PUT: restart the system's services and run again.
        raise RuntimeError(f"the package's upload did not complete: {result['status']}")
    size = path.stat().st_size  # noqa: ASYNC240 - after the upload, outside its timing
    return {
        "status": result["status"],
        "checksums": checksums,
        "checksums_signed": bool(signed_parts) and all(signed_parts),
        "seconds": round(result["seconds"], 3),
        "wall_s": round(wall, 3),
        "end_to_end_mib_s": round(size / MiB / result["seconds"], 1),
        # The browser's own CPU per GiB, and the whole machine's (S3 and the system included):
        # on a machine that is CPU-bound, the browser's extra CPU is time the upload lacks.
        "browser_cpu_s_per_gib": round(browser_cpu * 1024 * MiB / size, 2),
        "machine_cpu_s_per_gib": round(machine_cpu * 1024 * MiB / size, 2),
    }


async def measure(
    args: argparse.Namespace, origin: str, path: Path, folder: Path
) -> dict[str, Any]:
    """Alternating rounds; the Python client too unless the client runs apart (one CPU would
    measure the Python client's own CPU, not the system)."""
    rounds: list[dict[str, Any]] = []
    async with chromium() as browser:
        for _ in range(args.rounds):
            round_: dict[str, Any] = {}
            for checksums, mode in ((False, "checksums_off"), (True, "checksums_on")):
                round_[f"package_{mode}"] = await package_upload(
                    browser,
                    origin,
                    args.url,
                    path,
                    checksums=checksums,
                    parts_per_file=args.parts_per_file,
                )
                if args.client_cpu is None:
                    round_[f"client_{mode}"] = intake_upload(
                        path, args, stack_env(), folder, checksums=checksums
                    )
            rounds.append(round_)
    package = _package_figures(rounds)
    figures = {
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "file_bytes": path.stat().st_size,  # noqa: ASYNC240 - after every upload
        "package_parts_in_flight": args.parts_per_file or 4,
        **package,
        "browser": chromium_version(),
    }
    if args.client_cpu is None:
        figures |= _client_figures(rounds, args.parallel, package)
    return figures | {"rounds": rounds}


def _best(rounds: list[dict[str, Any]], name: str) -> float:
    return max(float(r[name]["end_to_end_mib_s"]) for r in rounds)


def _package_figures(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    def median(mode: str, figure: str) -> float:
        return float(statistics.median(r[f"package_checksums_{mode}"][figure] for r in rounds))

    on, off = _best(rounds, "package_checksums_on"), _best(rounds, "package_checksums_off")
    return {
        # The default: per-part CRC32C, signed, verified by S3.
        "best_package_mib_s": on,
        "best_package_checksums_off_mib_s": off,
        "checksums_on_vs_off": round(on / off, 2),
        # Best-of is one lucky run on a noisy machine; the medians weigh every round.
        "median_checksums_on_vs_off": round(median("off", "seconds") / median("on", "seconds"), 2),
        "median_browser_cpu_s_per_gib_on": median("on", "browser_cpu_s_per_gib"),
        "median_browser_cpu_s_per_gib_off": median("off", "browser_cpu_s_per_gib"),
        "median_machine_cpu_s_per_gib_off": median("off", "machine_cpu_s_per_gib"),
        "target_checksums_on_vs_off": 0.9,
        "checksums_signed": all(r["package_checksums_on"]["checksums_signed"] for r in rounds),
    }


def _client_figures(
    rounds: list[dict[str, Any]], parallel: int, package: dict[str, Any]
) -> dict[str, Any]:
    package_on, package_off = (
        package["best_package_mib_s"],
        package["best_package_checksums_off_mib_s"],
    )
    on, off = _best(rounds, "client_checksums_on"), _best(rounds, "client_checksums_off")
    return {
        "client_parallel": parallel,
        "best_client_mib_s": on,
        "package_vs_client": round(package_on / on, 2),
        "target_package_vs_client": 0.8,
        "best_client_checksums_off_mib_s": off,
        "package_vs_client_checksums_off": round(package_off / off, 2),
        "client_checksums_on_vs_off": round(on / off, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("INTAKE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--sizes-mib", default="256", help="comma-separated, e.g. 256,1024")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--parts-per-file", type=int, default=None)
    parser.add_argument(
        "--client-cpu",
        type=int,
        default=None,
        help="run Chromium on this CPU and the system on the others (the package only)",
    )
    args = parser.parse_args()
    if not (WEB / "dist" / "index.js").is_file():
        raise SystemExit("web/dist is not built: run `make web`")
    with contextlib.ExitStack() as apart:
        if args.client_cpu is not None:
            apart.enter_context(client_apart(args.client_cpu, lambda: running_system_pids(STATE)))
        figures = measure_sizes(args)
    name = "web_package" if args.client_cpu is None else "web_package_client_apart"
    print(f"written to {write(name, figures)}")


def measure_sizes(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for size_mib in (int(size) for size in args.sizes_mib.split(",")):
        with (
            tempfile.TemporaryDirectory(prefix="intake-bench-", dir="/tmp") as folder,
            loopback_origin(HOST_APP_PORT, _HostApp) as origin,
        ):
            path = Path(folder) / f"package-{size_mib}mib.bin"
            write_random(path, size_mib * MiB)
            sized = asyncio.run(measure(args, origin, path, Path(folder)))
        print(
            f"{size_mib} MiB: package {sized['best_package_mib_s']} MiB/s with checksums,"
            f" {sized['best_package_checksums_off_mib_s']} without (on/off medians"
            f" {sized['median_checksums_on_vs_off']}); the client"
            f" {sized.get('best_client_mib_s', 'not run')}"
        )
        figures[f"{size_mib}mib"] = sized
    return figures


if __name__ == "__main__":
    main()
