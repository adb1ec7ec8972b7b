"""The command line's pure parts: rates, tokens, and the one-line error contract."""

import argparse
import os
import subprocess
import sys

import jwt
import pytest

from intake_client import cli, tokens


@pytest.mark.parametrize(("text", "rate"), [("500", 500), ("2K", 2048), ("1.5m", 1.5 * 2**20)])
def test_rates_take_binary_suffixes(text: str, rate: float) -> None:
    assert cli._rate(text) == rate


@pytest.mark.parametrize("text", ["fast", "0", "-1M"])
def test_nonsense_rates_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        cli._rate(text)


def test_a_minted_token_carries_the_claims_the_gateway_reads(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTAKE_JWT_SECRET", raising=False)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["token", "--tenant", "t-1", "--brand", "b-1", "--brand", "b-2"])
    assert exit_.value.code == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, tokens.DEV_SECRET, algorithms=["HS256"])
    assert claims["tenant_id"] == "t-1"
    assert claims["brand_ids"] == ["b-1", "b-2"]
    assert claims["permissions"] == ["assets.upload"]


def test_the_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_JWT_SECRET", "another-secret-of-enough-length-0123456789")
    token = tokens.mint("t-1", ["b"])
    assert jwt.decode(token, "another-secret-of-enough-length-0123456789", algorithms=["HS256"])


def test_a_missing_token_is_one_error_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTAKE_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["status", "abc"])
    assert exit_.value.code == 1
    assert capsys.readouterr().err == (
        "error: no token: pass --token or set INTAKE_TOKEN (see `intake token`)\n"
    )


def test_the_only_brand_of_a_token_is_the_default() -> None:
    assert cli._only_brand(tokens.mint("t-1", ["b-9"])) == "b-9"
    with pytest.raises(cli.UsageError):
        cli._only_brand(tokens.mint("t-1", ["b-1", "b-2"]))


# As the `intake` program (no argv), main() ends the process without the interpreter's
# teardown: what it printed, its exit status and the exit handlers must all survive that.
PROGRAM = """
import atexit, sys
atexit.register(lambda: print("exit handler ran", file=sys.stderr, flush=True))
sys.argv = ["intake", *{arguments!r}]
from intake_client.cli import main
main()
print("never reached")
"""


def run_program(arguments: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"INTAKE_TOKEN", "INTAKE_JWT_SECRET"}}
    code = PROGRAM.format(arguments=arguments)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )


def test_the_program_prints_everything_then_exits_with_its_status() -> None:
    # Large output into a pipe: all of it must be flushed before the process ends.
    brands = [arg for n in range(2000) for arg in ("--brand", f"brand-{n}")]
    ok = run_program(["token", "--tenant", "t-1", *brands])
    assert ok.returncode == 0
    claims = jwt.decode(ok.stdout.strip(), tokens.DEV_SECRET, algorithms=["HS256"])
    assert len(claims["brand_ids"]) == 2000
    assert "never reached" not in ok.stdout
    assert ok.stderr == "exit handler ran\n"

    failed = run_program(["status", "abc"])
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: no token")
    assert failed.stderr.endswith("exit handler ran\n")
