"""Issue 23, browser security headers in real Chromium: the page works under its strict CSP
(an upload, direct and multipart, completes with no violation), and the policy does refuse
what it must (an inline script, a request to an origin that is not the gateway or storage)."""

from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Response, expect

from tests.browser.conftest import MiB, open_page, pick, random_file, row
from tests.conftest import Caller, System
from tests.support.gateways import own_gateway

pytestmark = pytest.mark.e2e

# Collected before any of the page's scripts run.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


async def test_the_page_uploads_under_its_policy_and_the_policy_refuses_the_rest(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path
) -> None:
    await context.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    small = tmp_path / "small.txt"
    small.write_bytes(b"under a strict policy\n" * 50)
    large = random_file(tmp_path / "large.bin", 6 * MiB)  # multipart: parts PUT to storage

    answers: list[Response] = []

    def keep(response: Response) -> None:
        answers.append(response)

    context.on("response", keep)
    page = await open_page(context, system, caller)
    page.on("console", lambda message: console.append(message.text))
    [document] = [a for a in answers if a.url.rstrip("/") == system.gateway_url]
    policy = (await document.all_headers())["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert f"connect-src 'self' {system.env['AWS_ENDPOINT_URL'].rstrip('/')}" in policy

    await pick(page, small, large)
    for path in (small, large):
        await expect(row(page, path.name)).to_have_attribute(
            "data-status", "completed", timeout=120_000
        )
    assert await page.evaluate("window.__violations") == []
    assert not [text for text in console if "Content Security Policy" in text]

    ran = await page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.__inlineRan = true";
          document.head.appendChild(script);
          return window.__inlineRan === true;
        }"""
    )
    assert ran is False
    refused = await page.evaluate(
        """() => fetch("http://elsewhere.invalid/steal").then(() => "sent", () => "refused")"""
    )
    assert refused == "refused"
    violations = await page.evaluate("window.__violations")
    assert any(v.startswith("script-src") for v in violations), violations
    assert any(v.startswith("connect-src") for v in violations), violations


async def test_a_token_in_the_address_is_dropped_unread_where_the_gateway_refuses_it(
    system: System, context: BrowserContext, caller: Caller, tmp_path: Path
) -> None:
    with own_gateway(system, tmp_path, INTAKE_FRAGMENT_TOKENS="refused") as gateway:
        page = await context.new_page()
        await page.goto(f"{gateway}/#token={caller.token}")

        await expect(page.get_by_test_id("token-state")).to_contain_text("refused")
        assert "#token=" not in page.url
        assert await page.evaluate("sessionStorage.length") == 0
