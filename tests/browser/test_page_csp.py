"""The page is written to run under a strict Content-Security-Policy: no inline script, no
inline event handler, no eval; its hashing worker is a script of its own origin. The page under
the gateway's real policy header is driven in tests/browser/test_security_headers.py."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

WEB = Path(__file__).resolve().parents[2] / "web"
STATIC = WEB.parent / "services" / "gateway" / "src" / "intake_gateway" / "static"


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
