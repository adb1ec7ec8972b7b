"""The API types @intake/uploader compiles against are what the live gateway documents."""

import difflib
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import System

pytestmark = pytest.mark.e2e

WEB = Path(__file__).resolve().parents[2] / "web"
COMMITTED = WEB / "src" / "generated" / "openapi.ts"
GENERATOR = WEB / "node_modules" / ".bin" / "openapi-typescript"
REGENERATE = (
    "cd web && npm run api-types -- http://127.0.0.1:8000/schema/openapi.json "
    "-o src/generated/openapi.ts  (against `make up`)"
)


def test_the_committed_api_types_are_generated_from_the_live_gateways_document(
    system: System, tmp_path: Path
) -> None:
    document = httpx.get(f"{system.gateway_url}/schema/openapi.json", timeout=30)
    assert document.status_code == 200
    source = tmp_path / "openapi.json"
    source.write_text(json.dumps(document.json()))
    generated = tmp_path / "openapi.ts"

    subprocess.run(
        [str(GENERATOR), str(source), "-o", str(generated)], check=True, capture_output=True
    )

    fresh, committed = generated.read_text(), COMMITTED.read_text()
    drift = list(
        difflib.unified_diff(
            committed.splitlines(),
            fresh.splitlines(),
            "committed",
            "live gateway",
            lineterm="",
            n=1,
        )
    )
    assert fresh == committed, f"API types drifted; regenerate: {REGENERATE}\n" + "\n".join(
        drift[:60]
    )
