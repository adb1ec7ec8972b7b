"""Headless Chromium (Debian's package) driven by Playwright against the real system."""

import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Request,
    Response,
    Route,
    async_playwright,
)

from tests.conftest import Caller, System
from tests.support.waiting import eventually

MiB = 1024 * 1024
T = TypeVar("T")
CHROMIUM = os.environ.get("INTAKE_CHROMIUM", "/usr/bin/chromium")


@contextlib.asynccontextmanager
async def chromium(*args: str) -> AsyncIterator[Browser]:
    """Chromium started with `args`, closed after the block."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make bootstrap` installs Debian's chromium")
    # Root (CI, containers) cannot use Chromium's sandbox.
    sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=[*args, *sandbox])
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def fresh_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh profile: its own IndexedDB and sessionStorage."""
    context = await browser.new_context()
    context.set_default_timeout(60_000)
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh profile per test."""
    async with fresh_context(browser) as context:
        yield context


async def open_page(
    context: BrowserContext, system: System, caller: Caller, query: str = ""
) -> Page:
    page = await context.new_page()
    await page.goto(f"{system.gateway_url}/{query}#token={caller.token}")
    return page


async def pick(page: Page, *paths: Path) -> None:
    await page.get_by_test_id("add-asset-button").click()
    await page.get_by_test_id("file-input").set_input_files(list(paths))


async def upload_through(
    context: BrowserContext,
    system: System,
    caller: Caller,
    parts: Callable[[Route], Awaitable[None]],
    *paths: Path,
) -> Page:
    """The page opened with each part's PUT to S3 going through `parts`, `paths` picked."""
    await context.route(PARTS, parts)
    page = await open_page(context, system, caller)
    await pick(page, *paths)
    return page


def row(page: Page, name: str):
    return page.locator(f'[data-testid="upload-row"][data-file-name="{name}"]')


def random_file(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        for start in range(0, size, MiB):
            out.write(os.urandom(min(MiB, size - start)))
    return path


def part_number(url: str) -> int | None:
    """The part a presigned multipart PUT carries, or None for other requests."""
    query = parse_qs(urlsplit(url).query)
    numbers = query.get("partNumber")
    return int(numbers[0]) if numbers else None


class PartLog:
    """Every part PUT the page sends, every answer (part number, status) and every part S3
    answered with 200, in order."""

    def __init__(self, context: BrowserContext) -> None:
        self.sent: list[int] = []
        self.answers: list[tuple[int, int]] = []
        self.stored: list[int] = []
        context.on("request", self._on_request)
        context.on("response", self._on_response)

    def _on_request(self, request: Request) -> None:
        number = part_number(request.url)
        if request.method == "PUT" and number is not None:
            self.sent.append(number)

    def _on_response(self, response: Response) -> None:
        number = part_number(response.url)
        if response.request.method != "PUT" or number is None:
            return
        self.answers.append((number, response.status))
        if response.status == 200:
            self.stored.append(number)


def flip_a_byte_once(parts: set[int]) -> Callable[[Route], Awaitable[None]]:
    """A route handler that sends each of `parts` once with its first byte flipped: the same
    length, other bytes, which S3 refuses for the checksum the part's URL signed."""
    pending = set(parts)

    async def handle(route: Route) -> None:
        number = part_number(route.request.url)
        body = route.request.post_data_buffer
        if number in pending and body:
            pending.discard(number)
            await route.continue_(post_data=bytes([body[0] ^ 0xFF]) + body[1:])
        else:
            await route.continue_()

    return handle


PARTS = "**/temp/uploads/**"


def reading(read: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """A plain read as the async probe `eventually` polls."""

    async def probe() -> T:
        return read()

    return probe


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_digest(s3: Any, asset: asyncpg.Record) -> str:
    """The digest of the bytes the asset's object holds in S3."""
    return digest(s3.get_object(Bucket=asset["bucket"], Key=asset["object_key"])["Body"].read())


async def assets_of(db: asyncpg.Connection, session_id: str | None) -> list[asyncpg.Record]:
    assert session_id
    return await db.fetch(
        "SELECT * FROM completion.assets WHERE upload_session_id = $1", uuid.UUID(session_id)
    )


async def promoted_asset(db: asyncpg.Connection, session_id: str | None) -> asyncpg.Record:
    """The one asset, once its object reached the permanent key (the temp key goes away)."""
    found = await eventually(
        lambda: assets_of(db, session_id),
        lambda rows: len(rows) == 1 and rows[0]["object_key"].startswith("tenants/"),
        timeout_s=60,
    )
    return found[0]
