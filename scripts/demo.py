"""`make demo`: upload a small and a 64 MiB file, kill the large one midway, resume it, show
both assets with their audit trails, and print a ready link to the upload page with a
development token. Needs a running system (`make up`).

    uv run python scripts/demo.py [--url http://127.0.0.1:8000]
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from intake_client import tokens

MiB = 1024 * 1024
INTAKE = str(Path(sys.executable).with_name("intake"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("INTAKE_URL", "http://127.0.0.1:8000"))
    args = parser.parse_args()
    tenant, brand = f"demo-{uuid.uuid4().hex[:8]}", "brand-demo"
    env = {**os.environ, "INTAKE_URL": args.url}
    env["INTAKE_TOKEN"] = tokens.mint(tenant, [brand], user_id="demo-user")
    step(f"token minted for tenant {tenant}, brand {brand}")
    with tempfile.TemporaryDirectory(prefix="intake-demo-") as folder:
        work = Path(folder)
        state = work / "uploads.json"
        small = write_file(work / "hello.txt", b"hello from the intake demo\n" * 4000)
        large = write_random(work / "large.bin", 64 * MiB)
        results = [upload(small, state, env)]
        interrupt(large, state, env)
        step("rerunning the same command: it resumes from what S3 already holds")
        results.append(upload(large, state, env))
    for result in results:
        show(result, env)
    step("the upload page, signed in as the same demo user (the token stays out of the URL)")
    print(f"    {args.url}/#token={env['INTAKE_TOKEN']}", flush=True)
    if any(result.get("status") != "completed" for result in results):
        sys.exit(1)


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def write_file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def write_random(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        for _ in range(size // MiB):
            out.write(os.urandom(MiB))
    return path


def command(path: Path, state: Path, *extra: str) -> list[str]:
    return [INTAKE, "upload", str(path), "--state-file", str(state), "--json", *extra]


def upload(path: Path, state: Path, env: dict[str, str]) -> dict[str, Any]:
    step(f"intake upload {path.name} ({path.stat().st_size:,} bytes)")
    answer = subprocess.run(
        command(path, state, "--parallel", "4"), env=env, stdout=subprocess.PIPE, text=True,
        check=False,
    )  # fmt: skip
    if not answer.stdout.strip():
        return {"path": str(path), "status": "failed"}  # the CLI printed its error line
    result: dict[str, Any] = json.loads(answer.stdout)[0]
    print(f"    status {result['status']}: {result['parts_sent']}/{result['parts_total']} parts "
          f"sent, {result['parts_skipped']} already in S3")  # fmt: skip
    return result


def interrupt(path: Path, state: Path, env: dict[str, str]) -> None:
    """Start the large upload (rate-limited so it is surely midway) and SIGKILL it."""
    step(f"intake upload {path.name} ({path.stat().st_size:,} bytes), killed midway")
    process = subprocess.Popen(
        command(path, state, "--parallel", "2", "--limit-rate", "24M", "--quiet"),
        env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while parts_done(state) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    print(f"    kill -9 after {parts_done(state)} of 8 parts (exit {process.returncode})")


def parts_done(state: Path) -> int:
    try:
        uploads = json.loads(state.read_text())["uploads"]
    except (OSError, ValueError, KeyError):
        return 0
    return sum(len(entry.get("parts_done", {})) for entry in uploads.values())


def show(result: dict[str, Any], env: dict[str, str]) -> None:
    step(f"asset of {Path(result['path']).name}")
    print(json.dumps(result.get("asset"), indent=2))
    session_id = result.get("upload_session_id")
    if session_id is None:
        return
    step(f"audit trail of session {session_id} (intake events)")
    deadline = time.monotonic() + 15  # the trail is filled from events: eventually consistent
    while True:
        answer = subprocess.run(  # our own console script
            [INTAKE, "events", session_id], env=env, capture_output=True, text=True, check=False
        )
        if answer.returncode != 0:
            print(f"    {answer.stderr.strip()}")  # e.g. the audit service is not running yet
            return
        events = json.loads(answer.stdout).get("events", [])
        if events or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for event in events:
        print(f"    {event.get('occurred_at')}  {event.get('type')}")
    if not events:
        print("    (no events recorded yet: is the audit service consuming?)")


if __name__ == "__main__":
    main()
