"""Real Uppy (Dashboard, @uppy/aws-s3, Golden Retriever) uploading through Intake, in Chromium.

The page is examples/uppy built by `make uppy-example`: it installs the packed tarball of
@intake/uploader as a host app would. It is served from CONFIGURED_ORIGIN, an origin the
gateway's and the bucket's CORS grant, by Playwright (no server of its own). The plugin's
default checksums are on: CRC32C per part (hashed in the package's worker), and for a direct
upload the whole file's, declared at initiation.
"""

import json
import logging
import mimetypes
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request, Route

from tests.browser.conftest import (
    PARTS,
    MiB,
    PartLog,
    chromium,
    digest,
    flip_a_byte_once,
    fresh_context,
    part_number,
    promoted_asset,
    random_file,
    reading,
    stored_digest,
)
from tests.browser.test_faults import cors_headers
from tests.browser.test_part_checksums import BAD_DIGEST, Signing, crc32c_b64
from tests.conftest import CONFIGURED_ORIGIN, Caller, System
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
log = logging.getLogger(__name__)

UPLOAD_TIMEOUT_S = 120
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "uppy" / "dist"


@pytest.fixture(scope="module")
async def example_browser() -> AsyncIterator[Browser]:
    """Chromium that treats the example's origin as the HTTPS origin a host app would have.

    Served by Playwright from a made-up http origin, the page would otherwise be an insecure
    context, which Chromium forbids to call a loopback address (the gateway under test).
    """
    async with chromium(
        f"--unsafely-treat-insecure-origin-as-secure={CONFIGURED_ORIGIN}",
        # A deployed host app and gateway share an address space; here the gateway is loopback.
        "--disable-features=LocalNetworkAccessChecks",
    ) as browser:
        yield browser


@pytest.fixture
async def context(example_browser: Browser) -> AsyncIterator[BrowserContext]:
    async with fresh_context(example_browser) as context:
        yield context


async def serve_example(context: BrowserContext) -> None:
    if not (EXAMPLE / "main.js").is_file():
        pytest.fail(f"{EXAMPLE} is not built: run `make uppy-example`")

    async def from_dist(route: Route) -> None:
        path = route.request.url.removeprefix(CONFIGURED_ORIGIN).split("?")[0].split("#")[0]
        file = EXAMPLE / (path.lstrip("/") or "index.html")
        if not file.is_file():
            await route.fulfill(status=404, body="not found")
            return
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        await route.fulfill(status=200, body=file.read_bytes(), content_type=kind)

    await context.route(f"{CONFIGURED_ORIGIN}/**", from_dist)


async def open_example(context: BrowserContext, system: System, caller: Caller) -> Page:
    await serve_example(context)
    page = await context.new_page()
    # Shown with a failure's captured output: Uppy reports its errors on the console.
    page.on("console", lambda message: log.warning("console %s: %s", message.type, message.text))
    page.on("pageerror", lambda error: log.warning("page error: %s", error))
    page.on(
        "requestfailed",
        lambda request: log.warning(
            "failed: %s %s %s", request.method, request.url, request.failure
        ),
    )
    query = f"?endpoint={system.gateway_url}&brand={caller.brand_id}"
    await page.goto(f"{CONFIGURED_ORIGIN}/{query}#token={caller.token}")
    await page.wait_for_function("() => window.uppy !== undefined")
    return page


async def add_files(page: Page, *paths: Path) -> None:
    picker = page.locator("input.uppy-Dashboard-input").first
    if not await picker.count():  # a Dashboard that lists files shows its picker on "Add more"
        await page.locator(".uppy-DashboardContent-addMore").click()
    await picker.set_input_files(list(paths))


async def press_upload(page: Page) -> None:
    await page.locator(".uppy-StatusBar-actionBtn--upload").click()


async def files_meta(page: Page) -> dict[str, dict[str, Any]]:
    """Each file's name → its meta and whether Uppy holds its bytes."""
    found: dict[str, dict[str, Any]] = await page.evaluate(
        """() => Object.fromEntries(window.uppy.getFiles().map((f) => [f.name, {
            ...f.meta, isGhost: Boolean(f.isGhost), s3: f.s3Multipart ?? null,
            error: f.error ?? null }]))"""
    )
    return found


async def wait_for_assets(page: Page, *names: str) -> dict[str, dict[str, Any]]:
    return await eventually(
        lambda: files_meta(page),
        lambda files: all(files.get(name, {}).get("intakeAssetId") for name in names),
        timeout_s=UPLOAD_TIMEOUT_S,
    )


# The multipart upload id Golden Retriever persisted for a file (its IndexedDB record).
PERSISTED_UPLOAD_ID = """(name) => new Promise((done) => {
    const open = indexedDB.open('uppy-blobs');
    open.onerror = () => done(null);
    open.onsuccess = () => {
        const read = open.result.transaction(['metadata']).objectStore('metadata').getAll();
        read.onerror = () => done(null);
        read.onsuccess = () => {
            const files = read.result.flatMap((r) => Object.values(JSON.parse(r.metadata).files ?? {}));
            done(files.find((f) => f.name === name)?.s3Multipart?.uploadId ?? null);
        };
    };
})"""


class ChecksumLog:
    """The checksum header of every PUT to S3 (a part's by its number, a direct PUT's as 0),
    what initiate-batch declared per file name, and the worker scripts the page started."""

    def __init__(self, context: BrowserContext) -> None:
        self.sent: dict[int, list[str | None]] = {}
        self.declared: dict[str, dict[str, Any]] = {}
        self.workers: list[str] = []
        context.on("request", self._on_request)
        context.on("page", lambda page: page.on("worker", lambda w: self.workers.append(w.url)))

    def _on_request(self, request: Request) -> None:
        if request.method == "PUT" and "/temp/uploads/" in request.url:
            number = part_number(request.url) or 0
            self.sent.setdefault(number, []).append(request.headers.get("x-amz-checksum-crc32c"))
        if request.url.endswith("/initiate-batch") and request.post_data is not None:
            for file in json.loads(request.post_data)["files"]:
                self.declared[file["file_name"]] = file


async def test_a_small_and_a_multipart_file_each_become_one_asset(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path, s3: Any, db: Any
) -> None:
    small = random_file(tmp_path / "still.jpg", 2 * MiB)  # below 5 MiB: a direct PUT
    large = random_file(tmp_path / "clip.mov", 40 * MiB)  # 5 parts of 8 MiB
    initiated: list[str] = []
    to_gateway: list[Request] = []

    def on_request(request: Request) -> None:
        if "/initiate" in request.url:
            initiated.append(request.url)
        if request.url.startswith(system.gateway_url) and request.method != "OPTIONS":
            to_gateway.append(request)

    context.on("request", on_request)
    parts = PartLog(context)
    checksums = ChecksumLog(context)
    signing = Signing(context)
    page = await open_example(context, system, caller)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))

    await add_files(page, small, large)
    await press_upload(page)
    files = await wait_for_assets(page, small.name, large.name)

    assert [url.rsplit("/", 1)[-1] for url in initiated] == ["initiate-batch"]
    # Every gateway call, the S3-format ones included, carries the token in its header only.
    assert {request.url.split("/app/")[1].split("/")[0] for request in to_gateway} >= {
        "uploads",
        "uppy",
        "assets",
    }
    for request in to_gateway:
        assert (await request.all_headers()).get("authorization") == f"Bearer {caller.token}"
        assert caller.token not in request.url
    assert sorted(parts.stored) == [1, 2, 3, 4, 5]
    for path in (small, large):
        meta = files[path.name]
        asset = await promoted_asset(db, meta["intakeSessionId"])
        assert str(asset["asset_id"]) == meta["intakeAssetId"]
        assert stored_digest(s3, asset) == digest(path.read_bytes())
        # FULL_OBJECT for the multipart file: S3's whole-object CRC32C, recorded on the Asset.
        data = path.read_bytes()
        assert (asset["checksum_algorithm"], asset["checksum"]) == ("CRC32C", crc32c_b64(data))

    # Each part was signed with its CRC32C and sent with it; the direct PUT with the whole file's,
    # declared at initiation.
    data = large.read_bytes()
    expected = {n: crc32c_b64(data[(n - 1) * 8 * MiB : n * 8 * MiB]) for n in range(1, 6)}
    assert {n: checksums[0] for n, checksums in signing.checksums.items()} == expected
    # (a PUT that failed on the wire may be tried again by Uppy, with the same header)
    assert {n: set(sent) for n, sent in checksums.sent.items() if n} == {
        n: {value} for n, value in expected.items()
    }
    assert checksums.declared[large.name]["checksum_algorithm"] == "CRC32C"
    assert checksums.declared[large.name].get("checksum") is None
    whole = crc32c_b64(small.read_bytes())
    assert checksums.declared[small.name]["checksum_algorithm"] == "CRC32C"
    assert checksums.declared[small.name]["checksum"] == whole
    assert set(checksums.sent[0]) == {whole}
    # The parts were hashed by the package's worker, which the bundled example found.
    assert any(url.endswith("/hash-worker.js") for url in checksums.workers), checksums.workers
    # The signed Content-Length is the browser's to send: the plugin never tries to set it.
    assert not [text for text in console if "unsafe header" in text], console


async def test_a_reload_at_two_of_five_parts_sends_only_parts_three_to_five(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path, s3: Any, db: Any
) -> None:
    large = random_file(tmp_path / "interview.mov", 40 * MiB)  # 5 parts of 8 MiB
    parts = PartLog(context)

    async def first_two_only(route: Route) -> None:
        if part_number(route.request.url) in {1, 2}:
            await route.continue_()
        # else never answered: the reload cuts this part off before it reaches S3

    await context.route(PARTS, first_two_only)
    page = await open_example(context, system, caller)
    await add_files(page, large)
    await press_upload(page)
    await eventually(
        reading(lambda: sorted(parts.stored)), lambda stored: stored == [1, 2], timeout_s=120
    )
    before = (await files_meta(page))[large.name]
    assert before["s3"] is not None
    # Golden Retriever writes its state at most every 500 ms: wait until it holds the upload.
    await eventually(
        lambda: page.evaluate(PERSISTED_UPLOAD_ID, large.name),
        lambda persisted: persisted == before["s3"]["uploadId"],
        timeout_s=10,
    )
    parts.sent.clear()
    parts.stored.clear()
    # The held part 3 dies with the page; parts after the reload go to S3 untouched.
    await context.unroute(PARTS, first_two_only)

    await page.reload()
    await page.wait_for_function("() => window.uppy !== undefined")
    restored = await eventually(
        lambda: files_meta(page), lambda files: large.name in files, timeout_s=30
    )
    assert restored[large.name]["intakeSessionId"] == before["intakeSessionId"]
    if restored[large.name]["isGhost"]:  # above Golden Retriever's 10 MiB blob limit
        await add_files(page, large)
    await press_upload(page)

    files = await wait_for_assets(page, large.name)
    # Only the parts S3 lacked are sent, each stored once; a PUT that failed on the wire may be
    # tried again (Uppy's own retry), which is not sending a part S3 holds.
    assert set(parts.sent) == {3, 4, 5}
    assert sorted(parts.stored) == [3, 4, 5]
    asset = await promoted_asset(db, files[large.name]["intakeSessionId"])
    assert stored_digest(s3, asset) == digest(large.read_bytes())


async def test_cancel_in_uppy_cancels_the_session_and_aborts_its_multipart_upload(
    system: System,
    context: BrowserContext,
    caller: Caller,
    tmp_path: Path,
    s3: Any,
    bucket: str,
) -> None:
    large = random_file(tmp_path / "rushes.mov", 40 * MiB)
    parts = PartLog(context)
    gateway_calls: list[tuple[str, str]] = []

    def on_request(request: Request) -> None:
        if request.url.startswith(system.gateway_url):
            gateway_calls.append((request.method, request.url.removeprefix(system.gateway_url)))

    context.on("request", on_request)

    async def first_only(route: Route) -> None:
        if part_number(route.request.url) == 1:
            await route.continue_()

    await context.route(PARTS, first_only)
    page = await open_example(context, system, caller)
    await add_files(page, large)
    await press_upload(page)
    await eventually(reading(lambda: parts.stored), lambda stored: stored == [1], timeout_s=120)
    session_id = (await files_meta(page))[large.name]["intakeSessionId"]
    async with httpx.AsyncClient(base_url=system.gateway_url, headers=caller.headers) as api:
        upload_id = (await api.get(f"/app/uploads/{session_id}")).json()["multipart"]["upload_id"]
        assert any(
            u["UploadId"] == upload_id
            for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        )

        await page.locator(".uppy-StatusBar-actionCircleBtn[title='Cancel']").first.click()

        view = await eventually(
            lambda: api.get(f"/app/uploads/{session_id}"),
            lambda answer: answer.json()["status"] == "CANCELLED",
            timeout_s=30,
        )
        assert view.json()["asset_id"] is None
    await eventually(
        reading(
            lambda: [
                u
                for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
                if u["UploadId"] == upload_id
            ]
        ),
        lambda left: left == [],
        timeout_s=30,
    )
    assert ("DELETE", f"/app/uppy/{session_id}") in gateway_calls  # Uppy's abort reached Intake
    assert not any(path.endswith("/complete") for _, path in gateway_calls)
    assert uuid.UUID(session_id)


async def test_a_part_s3_refuses_for_its_digest_is_read_and_sent_again_alone(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path, s3: Any, db: Any
) -> None:
    large = random_file(tmp_path / "flipped.mov", 20 * MiB)  # parts of 8, 8 and 4 MiB
    parts = PartLog(context)
    signing = Signing(context)

    await context.route(PARTS, flip_a_byte_once({2}))
    page = await open_example(context, system, caller)
    await add_files(page, large)
    await press_upload(page)

    files = await wait_for_assets(page, large.name)
    assert (2, 400) in parts.answers  # S3 itself refused the wrong bytes for the signed CRC32C
    assert sorted(parts.sent) == [1, 2, 2, 3]  # part 2 again, alone
    assert signing.parts.count(2) == 2  # read, hashed and signed anew
    assert signing.parts.count(1) == signing.parts.count(3) == 1
    assert files[large.name]["error"] is None
    asset = await promoted_asset(db, files[large.name]["intakeSessionId"])
    assert stored_digest(s3, asset) == digest(large.read_bytes())
    assert asset["checksum"] == crc32c_b64(large.read_bytes())


async def test_a_direct_upload_s3_refuses_for_its_digest_is_sent_again(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path, s3: Any, db: Any
) -> None:
    small = random_file(tmp_path / "flipped.jpg", 1 * MiB)  # a direct PUT
    answers: list[int] = []
    refusals = [1]
    context.on(
        "response",
        lambda response: (
            answers.append(response.status)
            if response.request.method == "PUT" and "/temp/uploads/" in response.url
            else None
        ),
    )

    # Chromium hands Playwright no body for a whole picked file, so S3's refusal is played here
    # (the multipart test above has S3 refuse real wrong bytes).
    async def refuse_once(route: Route) -> None:
        if refusals and route.request.method == "PUT":
            refusals.pop()
            headers = {**cors_headers(route), "Content-Type": "application/xml"}
            await route.fulfill(status=400, body=BAD_DIGEST, headers=headers)
        else:
            await route.continue_()

    await context.route(PARTS, refuse_once)
    page = await open_example(context, system, caller)
    await add_files(page, small)
    await press_upload(page)

    files = await wait_for_assets(page, small.name)
    assert answers == [400, 200]  # refused for its digest, then sent again and stored
    asset = await promoted_asset(db, files[small.name]["intakeSessionId"])
    assert stored_digest(s3, asset) == digest(small.read_bytes())
    assert (asset["checksum_algorithm"], asset["checksum"]) == (
        "CRC32C",
        crc32c_b64(small.read_bytes()),
    )
