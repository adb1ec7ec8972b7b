"""The browser side of the gateway: the upload page at `/`, its assets, and CORS."""

from pathlib import Path

from litestar import MediaType, Response, Router, get
from litestar.config.cors import CORSConfig
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.static_files import create_static_files_router

from intake_gateway.settings import GatewaySettings

STATIC_PATH = "/static"
# Built by `npm run build` in web/ (make bootstrap); not in git.
BUNDLE_DIR = Path(__file__).parent / "static"
# What a browser may send and read: bearer token, JSON, idempotency, and back-off hints.
ALLOWED_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key"]
EXPOSED_HEADERS = ["Retry-After", "Location"]


def cors_config(settings: GatewaySettings) -> CORSConfig:
    """Grant the configured origins and the gateway's own; any other origin gets no grant."""
    own = {f"http://{settings.host}:{settings.port}"}
    if settings.host in {"127.0.0.1", "0.0.0.0"}:  # noqa: S104 - naming an address, not binding
        own.add(f"http://localhost:{settings.port}")
    return CORSConfig(
        allow_origins=sorted(own | set(settings.cors_origin_list)),
        allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )


# What the page must know before it wires itself, written into its <head> so it needs no
# request: whether it may read a token from `#token=` (GatewaySettings.fragment_tokens), and
# the gateway's mode, within which it honours its test-only `?persistLimit=`.
PAGE_META = (
    '<meta name="intake-fragment-tokens" content="{fragment_tokens}" />\n'
    '    <meta name="intake-environment" content="{environment}" />'
)


def page_router(settings: GatewaySettings, bundle_dir: Path = BUNDLE_DIR) -> Router:
    """`/` answers the page, with its settings in <head>; `/static/…` its scripts and styles."""
    meta = PAGE_META.format(
        fragment_tokens="allowed" if settings.fragment_tokens_allowed else "refused",
        environment=settings.environment,
    )

    @get("/", include_in_schema=False, sync_to_thread=False)
    def index() -> Response[str]:
        page = bundle_dir / "index.html"
        if not page.is_file():
            raise NotFoundException("the upload page is not built: run `make bootstrap`")
        html = page.read_text(encoding="utf-8").replace("<head>", f"<head>\n    {meta}", 1)
        # no-store: a new build must reach a reloaded page at once.
        return Response(html, media_type=MediaType.HTML, headers={"Cache-Control": "no-store"})

    assets = create_static_files_router(
        path=STATIC_PATH,
        directories=[bundle_dir],
        cache_control=CacheControlHeader(no_cache=True),
        include_in_schema=False,
    )
    return Router(path="/", route_handlers=[index, assets])
