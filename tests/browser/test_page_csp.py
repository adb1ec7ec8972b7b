"""The page works under a strict Content-Security-Policy: no inline script, no inline event
handler, no eval; its hashing worker is a script of its own origin.

The policy is set by a <meta> element in the page's own document at the gateway's origin (a
real loopback document, so Chromium lets it reach the loopback bucket), whatever headers the
gateway sends; `frame-ancestors` only works as a header, and the gateway's header test covers it.
"""

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, ConsoleMessage, expect

from tests.browser.conftest import MiB, random_file, row
from tests.browser.test_upload_page import digest, promoted_asset
from tests.conftest import Caller, System

pytestmark = pytest.mark.e2e

WEB = Path(__file__).resolve().parents[2] / "web"
STATIC = WEB.parent / "services" / "gateway" / "src" / "intake_gateway" / "static"


def policy(bucket_origin: str) -> str:
    return (
        "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; "
        f"img-src 'self'; connect-src 'self' {bucket_origin}; base-uri 'none'; form-action 'none'"
    )


def test_the_page_has_no_inline_script_handler_or_eval() -> None:
    html = (WEB / "index.html").read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.DOTALL)
    assert scripts, "the page loads its script"
    assert all("src=" in attributes and body.strip() == "" for attributes, body in scripts)
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.IGNORECASE)
    assert not re.search(r"javascript:", html, flags=re.IGNORECASE)
    for built in ("app.js", "hash-worker.js"):
        code = (STATIC / built).read_text()
        assert not re.search(r"\beval\(|new Function\(|setTimeout\(\s*['\"`]", code), built


async def test_the_page_uploads_under_a_strict_policy(
    system: System,
    context: BrowserContext,
    caller: Caller,
    tmp_path: Path,
    stack_env: dict[str, str],
    s3: Any,
    db: Any,
) -> None:
    small = random_file(tmp_path / "logo.png", MiB)  # hashed in the worker before initiation
    large = random_file(tmp_path / "master.mov", 12 * MiB)
    refused: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(message.text)

    page = await context.new_page()
    page.on("console", on_console)
    await page.goto(f"{system.gateway_url}/healthz")
    html = (
        (WEB / "index.html")
        .read_text()
        .replace(
            "<head>",
            f'<head><meta http-equiv="Content-Security-Policy" '
            f'content="{policy(stack_env["AWS_ENDPOINT_URL"])}" />',
            1,
        )
    )
    await page.evaluate(
        "([html, token]) => { sessionStorage.setItem('intake.token', token);"
        " document.open(); document.write(html); document.close(); }",
        [html, caller.token],
    )
    await expect(page.get_by_test_id("token-state")).to_have_text(f"brand {caller.brand_id}")
    inline_ran = await page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.inlineRan = 1';"
        " document.head.append(s); return window.inlineRan === 1; }"
    )
    assert inline_ran is False  # the policy is in force
    refused.clear()

    await page.get_by_test_id("add-asset-button").click()
    await page.get_by_test_id("verify-checksum").check()
    await page.get_by_test_id("file-input").set_input_files([small, large])

    for path in (small, large):
        await expect(row(page, path.name)).to_have_attribute(
            "data-status", "completed", timeout=120_000
        )
        asset = await promoted_asset(
            db, await row(page, path.name).get_attribute("data-session-id")
        )
        assert asset["checksum_sha256"] == digest(path.read_bytes())  # the worker ran
        body = s3.get_object(Bucket=asset["bucket"], Key=asset["object_key"])["Body"].read()
        assert digest(body) == digest(path.read_bytes())
    assert refused == []
