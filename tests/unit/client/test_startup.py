"""`intake` reaches its first request fast: parsing its arguments loads no heavy module."""

import subprocess
import sys

HEAVY = ("httpx", "rich", "jwt", "cryptography", "asyncio", "intake_client.manager")


def loaded_after(code: str) -> list[str]:
    probe = f"import sys; {code}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    answer = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return answer.stdout.split()


def test_importing_the_command_line_loads_no_heavy_module() -> None:
    assert loaded_after("import intake_client.cli") == []


def test_parsing_an_upload_command_loads_no_heavy_module() -> None:
    code = "from intake_client import cli; cli._parser().parse_args(['upload', 'a.bin'])"
    assert loaded_after(code) == []


def test_the_package_still_offers_its_names_on_first_use() -> None:
    loaded = loaded_after("from intake_client import UploadManager, IntakeApi")
    assert {"httpx", "intake_client.manager"} <= set(loaded)


def test_reading_a_tokens_claims_needs_no_jwt_library() -> None:
    code = (
        "from intake_client import tokens; import sys;"
        " t = 'e30.eyJicmFuZF9pZHMiOiBbImIiXX0.sig';"
        " assert tokens.unverified_claims(t) == {'brand_ids': ['b']}, tokens.unverified_claims(t);"
        " assert tokens.unverified_claims('garbage') == {}"
    )
    assert loaded_after(code) == []
