"""Each service declares only what it uses: the gateway owns nothing persistent."""

import ast
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


S3_DRIVERS = frozenset({"boto3", "botocore", "aioboto3", "aiobotocore"})
S3_ADAPTER = ROOT / "libs" / "runtime" / "src" / "intake_runtime" / "storage" / "s3"


def imported_roots(source: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_s3_adapter_imports_the_s3_driver() -> None:
    """Callers branch on the adapter's typed results and errors, never on botocore's."""
    sources = [*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]
    adapter = [source for source in sources if source.parent == S3_ADAPTER]
    leaking = sorted(
        str(source.relative_to(ROOT))
        for source in sources
        if source not in adapter and imported_roots(source) & S3_DRIVERS
    )
    assert leaking == []
    assert any(imported_roots(source) & S3_DRIVERS for source in adapter)
