"""The page routes and CORS of the gateway, on a bare Litestar app (no broker needed)."""

from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

from intake_gateway import web
from intake_gateway.settings import GatewaySettings

GRANTED = "https://dam.example.com"


def app(bundle: Path) -> Litestar:
    settings = GatewaySettings(INTAKE_CORS_ORIGINS=GRANTED, INTAKE_GATEWAY_PORT=8010)
    return Litestar(
        route_handlers=[web.page_router(settings, bundle)], cors_config=web.cors_config(settings)
    )


def test_root_serves_the_page_and_static_serves_its_assets(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>Intake</title>")
    (tmp_path / "app.js").write_text("console.log('intake')")
    with TestClient(app(tmp_path)) as client:
        page = client.get("/")
        script = client.get("/static/app.js")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert script.text == "console.log('intake')"


def test_an_unbuilt_page_is_a_404_naming_the_fix(tmp_path: Path) -> None:
    with TestClient(app(tmp_path / "missing")) as client:
        answer = client.get("/")

    assert answer.status_code == 404
    assert "make bootstrap" in answer.text


def test_configured_and_own_origins_are_granted_and_others_are_not(tmp_path: Path) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    with TestClient(app(tmp_path)) as client:
        granted = client.options("/", headers={"Origin": GRANTED, **preflight})
        own = client.options("/", headers={"Origin": "http://localhost:8010", **preflight})
        foreign = client.options("/", headers={"Origin": "http://evil.example", **preflight})

    assert granted.headers.get("access-control-allow-origin") == GRANTED
    assert own.headers.get("access-control-allow-origin") == "http://localhost:8010"
    assert "access-control-allow-origin" not in foreign.headers


def test_the_page_names_the_mode_in_its_head_and_defaults_to_production(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><html><head><title>Intake</title>")
    local_settings = GatewaySettings(INTAKE_GATEWAY_PORT=8010, INTAKE_ENV="local")
    local = Litestar(route_handlers=[web.page_router(local_settings, tmp_path)])
    with TestClient(local) as client:
        local_page = client.get("/").text
        retired = client.get("/page-config.json")
    with TestClient(app(tmp_path)) as client:
        production_page = client.get("/").text

    assert '<meta name="intake-environment" content="local" />' in local_page
    assert '<meta name="intake-environment" content="production" />' in production_page
    assert retired.status_code == 404  # one channel: the page needs no request to know its mode
