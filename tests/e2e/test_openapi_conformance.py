"""Schemathesis against the live gateway: every check, a fixed budget, zero failures (#10)."""

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import System
from tests.support import stack, tokens
from tests.support.schemathesis_hooks import FIXED_BRAND

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 25
SUPPORT = stack.ROOT / "tests" / "support"


def test_the_live_gateway_conforms_to_its_openapi_document(system: System, tmp_path: Path) -> None:
    token = tokens.mint(tokens.new_tenant(), [FIXED_BRAND], ttl_s=3600)
    done = subprocess.run(
        [
            str(stack.ROOT / ".venv" / "bin" / "st"),
            f"--config-file={SUPPORT / 'schemathesis.toml'}",
            "run",
            f"{system.gateway_url}/schema/openapi.json",
            "--checks=all",
            f"--max-examples={EXAMPLES_PER_OPERATION}",
            # Stateful: from an initiate, along the document's links, to its session's operations.
            "--phases=examples,coverage,fuzzing,stateful",
            "--workers=2",
            "--seed=10",
            "--generation-deterministic",
            "--no-color",
            "--header",
            f"Authorization: Bearer {token}",
        ],
        cwd=tmp_path,  # its .hypothesis database stays out of the repository
        env={
            **os.environ,
            # Generated bodies name the token's brand, so requests reach initiation's rules.
            "SCHEMATHESIS_HOOKS": "tests.support.schemathesis_hooks",
            "PYTHONPATH": str(stack.ROOT),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]


def test_every_operation_declares_bearer_auth_and_its_problems(system: System) -> None:
    document = httpx.get(f"{system.gateway_url}/schema/openapi.json", timeout=30).json()
    assert document["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation["security"] == [{"BearerToken": []}], where
            statuses = set(operation["responses"])
            assert {"401", "403", "429", "503", "504"} <= statuses, where
            problem = operation["responses"]["401"]["content"]["application/problem+json"]
            assert problem["schema"]["$ref"].startswith("#/components/schemas/Problem401"), where
    initiate = document["paths"]["/app/uploads/initiate"]["post"]["responses"]
    assert {"400", "413", "422"} <= set(initiate)
    assert "mime_type_not_allowed" in initiate["422"]["description"]
    links = document["paths"]["/app/uploads/initiate"]["post"]["responses"]["201"]["links"]
    assert len(links) == 10  # every operation on a session follows from the one initiate created
    body = document["components"]["schemas"]["InitiateBody"]["properties"]
    assert body["file_name"]["maxLength"] == 255
    assert "pattern" in body["client_reference"]["oneOf"][0]
