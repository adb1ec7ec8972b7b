"""Browser security headers on every answer: no sniffing, no referrer, no framing, and a
Content-Security-Policy that lets the upload page run its own scripts and reach only the
gateway and the storage origins its presigned URLs point at."""

from collections.abc import Awaitable, Callable
from typing import Final

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import Message, Scope

from intake_gateway.settings import GatewaySettings

# Every answer, whatever it is (JSON, problem+json, the page, a 404).
ALWAYS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
}
# An API answer is data, never a document: it may load nothing and be framed by nobody.
API_POLICY: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# The development-only /schema pages load their renderer from a CDN (off in production).
SCHEMA_PAGES_POLICY: Final = "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def page_policy(settings: GatewaySettings) -> str:
    """The upload page's policy: its own scripts, styles and worker; requests to the gateway
    (`'self'`) and the storage origins (the presigned PUTs) only; no framing, no forms.
    'wasm-unsafe-eval' lets the hashing worker compile its CRC32C (WebAssembly); it allows no
    JavaScript eval."""
    connect = " ".join(["'self'", *settings.storage_origin_list])
    return (
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self';"
        " style-src 'self';"
        f" img-src 'self' data: blob:; connect-src {connect}; frame-ancestors 'none';"
        " base-uri 'none'; form-action 'none'"
    )


def _is_page(path: str) -> bool:
    return path == "/" or path.startswith("/static/")


def security_headers(
    settings: GatewaySettings,
) -> Callable[[Message, Scope], Awaitable[None]]:
    """A before-send hook: the headers go on every answer, the page's policy on the page."""
    page = page_policy(settings)
    schema_pages = not settings.production

    async def add(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP:
            return
        headers = MutableScopeHeaders.from_message(message)
        for name, value in ALWAYS.items():
            headers[name] = value
        path = scope["path"]
        if _is_page(path):
            policy = page
        elif schema_pages and path.startswith("/schema") and not path.endswith(".json"):
            policy = SCHEMA_PAGES_POLICY
        else:
            policy = API_POLICY
        headers["Content-Security-Policy"] = policy

    return add
