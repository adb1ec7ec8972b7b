"""`make demo`: upload a small and a 64 MiB file, kill the large one midway, resume it, wait
until both assets are promoted and their events complete, show them, and print a ready
link to the upload page with a development token. Needs a running system (`make up`).

    uv run python scripts/demo.py [--url http://127.0.0.1:8000] [--deadline-s 120]
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
from intake_client.api import IntakeApi
from intake_contracts.events import EventType

MiB = 1024 * 1024
INTAKE = str(Path(sys.executable).with_name("intake"))
# The events of an upload the system has finished with: promotion (asset.promoted) is the last
# step, after `complete` answered; until then the Asset still names its temp key.
FINISHED_EVENTS = frozenset(
    {
        EventType.UPLOAD_INITIATED,
        EventType.UPLOAD_UPLOADING,
        EventType.UPLOAD_COMPLETED,
        EventType.ASSET_CREATED,
        EventType.ASSET_PROMOTED,
    }
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    gateway = "http://{}:{}".format(  # where `make up` put it
        os.environ.get("INTAKE_GATEWAY_HOST", "127.0.0.1"),
        os.environ.get("INTAKE_GATEWAY_PORT", "8000"),
    )
    parser.add_argument("--url", default=os.environ.get("INTAKE_URL", gateway))
    parser.add_argument("--deadline-s", type=float, default=120.0, help="wait for promotion")
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
    api = IntakeApi(args.url, env["INTAKE_TOKEN"])
    deadline = time.monotonic() + args.deadline_s
    finished = [show(api, result, deadline) for result in results]
    step("the upload page, signed in as the same demo user (the token stays out of the URL)")
    print(f"    {args.url}/#token={env['INTAKE_TOKEN']}", flush=True)
    if not all(finished):
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


def show(api: IntakeApi, result: dict[str, Any], deadline: float) -> bool:
    """Waits until the upload's Asset is promoted and its events complete, then prints both."""
    name, session_id = Path(result["path"]).name, result.get("upload_session_id")
    if result.get("status") != "completed" or session_id is None:
        step(f"{name}: not completed ({result.get('status')})")
        return False
    step(f"{name}: waiting until its asset is promoted and its events complete")
    asset, events = settled(api, session_id, deadline)
    if asset.get("promoted_at") is None or missing(events):
        left = ", ".join(sorted(missing(events))) or "the asset's promoted_at"
        print(f"    not finished before the deadline; still missing: {left}")
        return False
    print(f"    permanent key: s3://{asset['bucket']}/{asset['object_key']}")
    print(json.dumps(asset, indent=2))
    step(f"events of session {session_id} (intake events {session_id})")
    for event in events:
        print(f"    {event.get('occurred_at')}  {event.get('type')}")
    return True


def settled(
    api: IntakeApi, session_id: str, deadline: float
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Asset and the events once both are final, or as they are at the deadline. Promotion
    runs after `complete` answered and the audit service records events as they come: both
    are eventual."""
    while True:
        events: list[dict[str, Any]] = api.events(session_id).now().get("events", [])
        # A second complete answers the recorded Asset as it is now (200, exactly-once).
        asset: dict[str, Any] = api.complete(session_id, None).now()["asset"]
        if (asset.get("promoted_at") and not missing(events)) or time.monotonic() > deadline:
            return asset, events
        time.sleep(0.5)


def missing(events: list[dict[str, Any]]) -> frozenset[str]:
    return FINISHED_EVENTS - {event.get("type") for event in events}


if __name__ == "__main__":
    main()
