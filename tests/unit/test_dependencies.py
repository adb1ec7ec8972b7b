"""Each service declares only what it uses: the gateway owns nothing persistent."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def closure(package: str) -> set[str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {entry["name"]: entry for entry in lock["package"]}
    seen: set[str] = set()
    pending = [package]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        entry = packages[name]
        pending += [dep["name"] for dep in entry.get("dependencies", [])]
        for dep in entry.get("dependencies", []):
            for extra in dep.get("extra", []):
                pending += [
                    d["name"]
                    for d in packages[dep["name"]].get("optional-dependencies", {}).get(extra, [])
                ]
    return seen


def test_the_gateway_pulls_no_database_or_storage_driver() -> None:
    gateway = closure("intake-gateway")
    assert "intake-runtime" in gateway
    assert not {"asyncpg", "aioboto3", "aiobotocore"} & gateway


def test_services_with_state_get_their_drivers_through_runtime_extras() -> None:
    assert {"asyncpg", "aioboto3"} <= closure("intake-initiation")
    assert "asyncpg" in closure("intake-audit")
    assert "aioboto3" not in closure("intake-audit")
