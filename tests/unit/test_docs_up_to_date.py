"""The checked-in event schemas and AsyncAPI document match the contracts (`intake-docs docs`)."""

from pathlib import Path

from intake_runtime import docs
from tests.support import stack

DOCS = stack.ROOT / "docs"


def _files(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text()
        for path in sorted(root.rglob("*.json"))
        if path.is_file()
    }


def test_checked_in_docs_match_the_contracts(tmp_path: Path) -> None:
    docs.write(tmp_path)

    expected = _files(tmp_path)
    checked_in = {name: text for name, text in _files(DOCS).items() if name in expected}
    missing = sorted(set(expected) - set(checked_in))
    stale = sorted(
        name
        for name in _files(DOCS)
        if name.startswith(f"{docs.SCHEMAS_DIR}/") and name not in expected
    )
    drifted = sorted(name for name in expected if checked_in.get(name) != expected[name])

    hint = "run `uv run intake-docs docs` and commit the result"
    assert not missing, f"not checked in: {missing}; {hint}"
    assert not stale, f"no longer generated: {stale}; {hint}"
    assert not drifted, f"out of date: {drifted}; {hint}"


def test_asyncapi_documents_every_topic() -> None:
    addresses = {channel["address"] for channel in docs.asyncapi()["channels"].values()}

    assert {
        "intake.uploads.events",
        "intake.assets.events",
        "intake.cleanup.events",
        "intake.initiation.commands",
        "intake.completion.commands",
        "intake.cleanup.commands",
        "intake.audit.queries",
    } <= addresses
