"""The same Uppy against Intake and against Uppy Companion, in Chromium, in one sitting.

The page is examples/uppy (`make uppy-example`): Uppy 6 with Dashboard, Golden Retriever and
@uppy/aws-s3. Against Intake it uses `@intake/uploader/uppy` (`uppy.use(Intake, …)`); against
Companion the same page sets `companionEndpoint` (`?companion=`). Both send the file in 8 MiB
parts, one after another (Uppy's way), straight to the same local S3 (SeaweedFS of the stack),
each system in a bucket of its own. One run is `await uppy.upload()` from the click to its
result: for Intake that includes completion (the Asset exists), for Companion its
CompleteMultipartUpload. Systems alternate run by run; the figure is the median.

    uv run python -m bench.uppy [--size-mib 256] [--runs 3] [--only intake,companion]

Target (issue 26): Intake at least 1.0x Companion. The page is served from a loopback origin
both systems' CORS grant. Companion is the one bench/competitors.py runs
(bench/competitors/install.sh).
"""

import argparse
import asyncio
import contextlib
import functools
import http.server
import json
import shutil
import statistics
import tempfile
import uuid
from pathlib import Path
from typing import Any

from playwright.async_api import Browser
from tests.support import stack, tokens
from tests.support.ports import free_port

from bench.browser_page import CHROMIUM, chromium, loopback_origin
from bench.common import RESULTS, write
from bench.competitors import System, _output, companion, install_competitors, intake, load
from bench.data_plane import s3_client, write_random

MiB = 1024 * 1024
PART = 8 * MiB
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "uppy" / "dist"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_: Any) -> None:
        return


def serve_example() -> contextlib.AbstractContextManager[str]:
    """examples/uppy/dist on a loopback origin of its own."""
    if not (EXAMPLE / "main.js").is_file():
        raise SystemExit(f"{EXAMPLE} is not built: run `make uppy-example`")
    return loopback_origin(free_port(), functools.partial(_Quiet, directory=str(EXAMPLE)))


def grant_browser(env: dict[str, str], bucket: str, origin: str) -> None:
    """Companion's bucket needs the CORS rule Intake sets on its own (PUT, ETag readable)."""
    rule = {
        "AllowedOrigins": [origin],
        "AllowedMethods": ["GET", "PUT", "POST", "HEAD"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 3600,
    }
    s3_client(env).put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})


async def one_upload(browser: Browser, page_url: str, file: Path) -> dict[str, Any]:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(page_url)
        await page.wait_for_function("() => window.uppy !== undefined")
        await page.locator("input.uppy-Dashboard-input").first.set_input_files(file)
        result: dict[str, Any] = await page.evaluate(
            """async () => {
                const started = performance.now();
                const result = await window.uppy.upload();
                const seconds = (performance.now() - started) / 1000;
                const file = result.successful[0];
                return { seconds, failed: result.failed.length,
                         asset: file?.meta?.intakeAssetId ?? null,
                         key: file?.response?.body?.key ?? null };
            }"""
        )
    finally:
        await context.close()
    if result["failed"]:
        raise RuntimeError(f"the upload through {page_url} failed: {errors[-5:]}")
    return result


def page_url(system: System, origin: str, tenant_brand: tuple[str, str], extra: str = "") -> str:
    """`extra`: more query parameters for Intake's page (`&checksum=none`)."""
    if system.name == "companion":
        return f"{origin}/?companion={system.url}&chunk={PART}"
    tenant, brand = tenant_brand
    token = tokens.mint(tenant, [brand])
    return f"{origin}/?endpoint={system.url}&brand={brand}{extra}#token={token}"


# What runs in a sitting: (name, system, query parameters of Intake's page). Intake runs with
# its plugin's default per-part CRC32C and without checksums (Companion has none).
Page = tuple[str, System, str]


def pages_of(systems: dict[str, System]) -> list[Page]:
    pages: list[Page] = []
    if "intake" in systems:
        pages.append(("intake", systems["intake"], ""))
        pages.append(("intake_no_checksums", systems["intake"], "&checksum=none"))
    if "companion" in systems:
        pages.append(("companion", systems["companion"], ""))
    return pages


async def sitting(
    systems: dict[str, System], origin: str, file: Path, runs: int, env: dict[str, str]
) -> dict[str, Any]:
    pages = pages_of(systems)
    seconds: dict[str, list[float]] = {name: [] for name, _, _ in pages}
    tenant_brand = (tokens.new_tenant(), "bench")
    s3 = s3_client(env)
    size_mib = file.stat().st_size / MiB  # noqa: ASYNC240 - once, before the sitting
    async with chromium() as browser:
        for _ in range(runs):
            for name, system, extra in pages:
                url = page_url(system, origin, tenant_brand, extra)
                result = await one_upload(browser, url, file)
                seconds[name].append(result["seconds"])
                if name == "companion" and result["key"]:
                    s3.delete_object(Bucket=system.bucket, Key=result["key"])
    figures: dict[str, Any] = {}
    for name, system, _ in pages:
        median = statistics.median(seconds[name])
        figures[name] = {
            "version": system.version,
            "seconds": [round(s, 3) for s in seconds[name]],
            "median_s": round(median, 3),
            "mib_per_s": round(size_mib / median, 1),
        }
    if {"intake", "companion"} <= figures.keys():
        ratio = figures["companion"]["median_s"] / figures["intake"]["median_s"]
        figures["intake_vs_companion"] = round(ratio, 2)
        figures["target_met"] = ratio >= 1.0
    if {"intake", "intake_no_checksums"} <= figures.keys():
        on, off = figures["intake"]["median_s"], figures["intake_no_checksums"]["median_s"]
        figures["intake_checksums_on_vs_off"] = round(off / on, 2)
    return figures


def uppy_versions() -> dict[str, str]:
    """The Uppy packages the example page was built with (its committed lock)."""
    modules = ROOT / "examples" / "uppy" / "node_modules"
    names = ("@uppy/core", "@uppy/aws-s3", "@uppy/dashboard", "@uppy/golden-retriever")
    names += ("@intake/uploader",)
    return {
        name: json.loads((modules / name / "package.json").read_text())["version"] for name in names
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="intake,companion")
    args = parser.parse_args()
    only = args.only.split(",")
    if not shutil.which(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} is missing (make chromium)")
    env = stack.stack_env()
    tools = install_competitors() if "companion" in only else {}
    figures: dict[str, Any] = {
        "file_bytes": args.size_mib * MiB,
        "part_bytes": PART,
        "runs": args.runs,
        "load_average_at_start": load(),
        "chromium": " ".join(_output([CHROMIUM, "--version"]).split()),
        "uppy": uppy_versions(),
    }
    with (
        tempfile.TemporaryDirectory(prefix="intake-uppy-", dir="/tmp") as scratch,
        serve_example() as origin,
        contextlib.ExitStack() as running,
    ):
        folder = Path(scratch)
        file = folder / f"{args.size_mib}mib.bin"
        write_random(file, args.size_mib * MiB)
        systems: dict[str, System] = {}
        if "intake" in only:
            # A bucket of its own (named under the base bucket, which the services' S3
            # policies cover): the stack's shared bucket has its CORS rule rewritten by
            # every Intake started beside this one (test runs), which would drop this origin.
            # Topics of its own too: services of another Intake on the default topics would
            # otherwise take this gateway's commands.
            namespace = f"bench-uppy-{uuid.uuid4().hex[:8]}"
            running.callback(stack.delete_namespace_topics, env, namespace)
            intake_env = {
                **env,
                "AWS_BUCKET": f"{env['AWS_BUCKET']}-bench-uppy",
                "INTAKE_CORS_ORIGINS": origin,
                "INTAKE_NAMESPACE": namespace,
            }
            systems["intake"] = running.enter_context(intake(intake_env))
        if "companion" in only:
            systems["companion"] = running.enter_context(companion(tools["companion"], env, folder))
            grant_browser(env, systems["companion"].bucket, origin)
        figures |= asyncio.run(sitting(systems, origin, file, args.runs, env))
        figures["load_average_at_end"] = load()
    print(write("uppy", figures))
    print(RESULTS / "uppy.json")


if __name__ == "__main__":
    main()
