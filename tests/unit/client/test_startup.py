"""`intake` reaches its first request fast: what is loaded when it goes out is the standard
library it needs and the client's light modules, never the heavy ones (docs/benchmarks.md)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from intake_client import tokens
from intake_client.state import StateEntry, StateFile, entry_key
from tests.support.ports import free_port

HEAVY = ("httpx", "rich", "jwt", "cryptography", "asyncio", "intake_client.manager")

# Modules that must not be loaded when the first request goes out: asyncio (and with it
# concurrent.futures, logging, subprocess), the S3 transfer stack, the progress bars, PyJWT,
# and dataclasses (inspect, ast, dis; building its classes cost tens of milliseconds).
NOT_BEFORE_FIRST_REQUEST = (
    "anyio",
    "asyncio",
    "concurrent.futures",
    "cryptography",
    "dataclasses",
    "httpcore",
    "httpx",
    "inspect",
    "intake_client.manager",
    "intake_client.models",
    "intake_client.multipart",
    "intake_client.transfer",
    "jwt",
    "logging",
    "rich",
    "uuid",
)

# Runs `intake ARGS` as its console script does, and at the first socket connect (the first
# request's) prints which of the watched modules are loaded, then ends the process there.
FIRST_CONNECT_PROBE = """
import json, os, sys
def at_first_connect(event, args):
    if event == "socket.connect":
        loaded = [name for name in {watched!r} if name in sys.modules]
        print(json.dumps({{"connecting": True, "loaded": loaded}}), flush=True)
        os._exit(0)
sys.addaudithook(at_first_connect)
sys.argv = ["intake", *{arguments!r}]
from intake_client.cli import main
main()
"""


def loaded_after(code: str) -> list[str]:
    probe = f"import sys; {code}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    answer = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return answer.stdout.split()


def loaded_at_first_request(arguments: list[str]) -> list[str]:
    probe = FIRST_CONNECT_PROBE.format(watched=NOT_BEFORE_FIRST_REQUEST, arguments=arguments)
    env = {
        **os.environ,
        "INTAKE_URL": f"http://127.0.0.1:{free_port()}",  # never reached: the probe ends first
        "INTAKE_TOKEN": tokens.mint("t-1", ["b-1"]),
    }
    answer = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    report = json.loads(answer.stdout)  # no output: the command never tried to connect
    assert report["connecting"] is True
    loaded: list[str] = report["loaded"]
    return loaded


@pytest.mark.parametrize("command", ["status", "cancel", "events"])
def test_a_look_up_sends_its_request_before_any_heavy_module_loads(command: str) -> None:
    assert loaded_at_first_request([command, "00000000-0000-4000-8000-000000000000"]) == []


def test_an_upload_initiates_before_any_heavy_module_loads(tmp_path: Path) -> None:
    file = tmp_path / "a.bin"
    file.write_bytes(b"x" * 100)
    state = ["--state-file", str(tmp_path / "state.json")]
    assert loaded_at_first_request(["upload", str(file), *state]) == []
    assert loaded_at_first_request(["upload", str(file), "--quiet", "--json", *state]) == []


def test_an_upload_resumes_a_known_session_before_any_heavy_module_loads(
    tmp_path: Path,
) -> None:
    # A state entry for this very file: the first request is then the session's resume.
    file = tmp_path / "a.bin"
    file.write_bytes(b"x" * 100)
    stat = file.stat()
    state = StateFile(tmp_path / "state.json")
    url = "http://127.0.0.1:1"
    state.put(entry_key(url, file), StateEntry("s-1", str(file), 100, stat.st_mtime_ns, "direct"))
    arguments = ["upload", str(file), "--url", url, "--state-file", str(state.path)]
    assert loaded_at_first_request(arguments) == []


def test_importing_the_command_line_loads_no_heavy_module() -> None:
    assert loaded_after("import intake_client.cli") == []


def test_parsing_an_upload_command_loads_no_heavy_module() -> None:
    code = "from intake_client import cli; cli._parser().parse_args(['upload', 'a.bin'])"
    assert loaded_after(code) == []


def test_the_package_still_offers_its_names_on_first_use() -> None:
    loaded = loaded_after("from intake_client import UploadManager, IntakeApi")
    assert {"asyncio", "intake_client.manager"} <= set(loaded)


def test_the_upload_machinery_moves_bytes_without_httpx() -> None:
    # The standard library carries the parts (storage.py); httpx loads only for a caller
    # that hands UploadManager an httpx client of its own.
    assert "httpx" not in loaded_after("import intake_client.manager, intake_client.storage")


def test_reading_a_tokens_claims_needs_no_jwt_library() -> None:
    code = (
        "from intake_client import tokens; import sys;"
        " t = 'e30.eyJicmFuZF9pZHMiOiBbImIiXX0.sig';"
        " assert tokens.unverified_claims(t) == {'brand_ids': ['b']}, tokens.unverified_claims(t);"
        " assert tokens.unverified_claims('garbage') == {}"
    )
    assert loaded_after(code) == []
