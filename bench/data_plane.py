"""Data plane and memory: a 1 GiB file through `intake upload` beside boto3's upload_file
(same part size, same concurrency, same S3), a single presigned PUT as the physical ceiling,
and the client's peak RSS. Needs a running system (`make up`).

    uv run python -m bench.data_plane [--url http://127.0.0.1:8000] [--parallel 4]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from bench.common import write
from intake_client import tokens
from intake_contracts import keys

MiB = 1024 * 1024
GiB = 1024 * MiB
PART = 8 * MiB  # what initiation picks for 1 GiB, so boto3 gets the same geometry
BIN = Path(sys.executable).parent

BOTO3_UPLOAD = """
import sys, boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
endpoint, key_id, secret, bucket, key, path, part, parallel = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key_id,
                  aws_secret_access_key=secret, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, max_pool_connections=32))
config = TransferConfig(multipart_threshold=int(part), multipart_chunksize=int(part),
                        max_concurrency=int(parallel), use_threads=True)
s3.upload_file(path, bucket, key, Config=config)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("INTAKE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    s3_env = stack_env()
    with tempfile.TemporaryDirectory(prefix="intake-bench-", dir="/tmp") as folder:
        path = Path(folder) / "big.bin"
        write_random(path, args.size_mib * MiB)
        figures: dict[str, Any] = {
            # Shared machines skew every figure; the load at the start says how much.
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
            "file_bytes": path.stat().st_size,
            "part_bytes": PART,
            "parallel": args.parallel,
            "intake_upload": intake_upload(path, args, s3_env, Path(folder)),
            "boto3_upload_file": boto3_upload(path, args.parallel, s3_env),
            "single_put_256mib": single_put(path, 256 * MiB, s3_env),
        }
    print(json.dumps(figures, indent=2))
    print(f"written to {write('data_plane', figures)}")


def stack_env() -> dict[str, str]:
    defaults = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:18333",
        "AWS_ACCESS_KEY_ID": "intake-dev-access-key",
        "AWS_SECRET_ACCESS_KEY": "intake-dev-secret-key",
        "AWS_BUCKET": "intake-uploads",
    }
    return {key: os.environ.get(key, value) for key, value in defaults.items()}


def drop_asset(s3: Any, asset: dict[str, Any]) -> None:
    """Free the bench's bytes once promotion (after `complete` answered) put them in place:
    deleting the temp key earlier would leave the promotion nothing to copy."""
    key = keys.asset_key(asset["tenant_id"], uuid.UUID(asset["asset_id"]))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            s3.head_object(Bucket=asset["bucket"], Key=key)
            break
        except s3.exceptions.ClientError:
            time.sleep(0.2)
    s3.delete_object(Bucket=asset["bucket"], Key=key)


def s3_client(env: dict[str, str]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def write_random(path: Path, size: int) -> None:
    block = os.urandom(16 * MiB)  # incompressible, and cheap to repeat
    with path.open("wb") as out:
        for start in range(0, size, len(block)):
            out.write(block[: min(len(block), size - start)])


class PeakRss:
    """Polls /proc/<pid>/status VmHWM (the kernel's own high-water mark) until the child ends."""

    def __init__(self, pid: int) -> None:
        self.pid, self.vm_hwm_kib = pid, 0
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while True:
            try:
                text = status.read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    self.vm_hwm_kib = max(self.vm_hwm_kib, int(line.split()[1]))
            if "State:\tZ" in text:
                return
            time.sleep(0.02)

    def join(self) -> None:
        self._thread.join(5)


def run_measured(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a child, return its wall time, stdout, VmHWM and (cross-check) wait4's ru_maxrss."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    peak = PeakRss(child.pid)
    out = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    peak.join()
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "wall_s": round(wall, 3),
        "stdout": out,
        "peak_rss_mib_vmhwm": round(peak.vm_hwm_kib / 1024, 1),
        "peak_rss_mib_ru_maxrss": round(usage.ru_maxrss / 1024, 1),
    }


def intake_upload(
    path: Path,
    args: argparse.Namespace,
    s3_env: dict[str, str],
    folder: Path,
    *,
    checksums: bool = True,
) -> dict[str, Any]:
    """`checksums`: the client's per-part checksums (its default) or `--no-checksums`."""
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "INTAKE_URL": args.url}
    env["INTAKE_TOKEN"] = tokens.mint(tenant, ["bench"], user_id="bench")
    command = [str(BIN / "intake"), "upload", str(path), "--parallel", str(args.parallel)]
    command += ["--json", "--quiet", "--state-file", str(folder / "uploads.json")]
    if not checksums:
        command.append("--no-checksums")
    measured = run_measured(command, env)
    [result] = json.loads(measured.pop("stdout"))
    if result["status"] != "completed":
        print(f"intake upload did not complete: {result['error']}", file=sys.stderr)
    size = path.stat().st_size
    if result["asset"]:
        drop_asset(s3_client(s3_env), result["asset"])
    elif result["upload_session_id"]:  # the bytes are in S3 but completion failed: free them
        cancel = [str(BIN / "intake"), "cancel", result["upload_session_id"]]
        subprocess.run(cancel, env=env, capture_output=True, check=False)
    bound = args.parallel * PART / MiB + 64
    return {
        **measured,
        "status": result["status"],
        "error": result["error"],
        "transfer_s": round(result["transfer_s"], 3),
        "complete_s": round(result["complete_s"], 3),
        "transfer_mib_s": round(size / MiB / max(result["transfer_s"], 1e-9), 1),
        "end_to_end_mib_s": round(size / MiB / measured["wall_s"], 1),
        "parts_sent": result["parts_sent"],
        "memory_bound_mib": bound,
        "within_memory_bound": measured["peak_rss_mib_vmhwm"] <= bound,
    }


def boto3_upload(path: Path, parallel: int, s3_env: dict[str, str]) -> dict[str, Any]:
    key = f"bench/{uuid.uuid4().hex}/boto3"
    command = [sys.executable, "-c", BOTO3_UPLOAD, s3_env["AWS_ENDPOINT_URL"]]
    command += [s3_env["AWS_ACCESS_KEY_ID"], s3_env["AWS_SECRET_ACCESS_KEY"]]
    command += [s3_env["AWS_BUCKET"], key, str(path), str(PART), str(parallel)]
    measured = run_measured(command)
    measured.pop("stdout")
    s3_client(s3_env).delete_object(Bucket=s3_env["AWS_BUCKET"], Key=key)
    measured["mib_s"] = round(path.stat().st_size / MiB / measured["wall_s"], 1)
    return measured


def single_put(path: Path, size: int, s3_env: dict[str, str]) -> dict[str, Any]:
    """One presigned PUT of the first `size` bytes with curl: what one stream can reach."""
    s3, key = s3_client(s3_env), f"bench/{uuid.uuid4().hex}/single"
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": s3_env["AWS_BUCKET"], "Key": key}, ExpiresIn=900
    )
    part = path.with_name("first-256mib.bin")
    with path.open("rb") as source, part.open("wb") as out:
        out.write(source.read(size))
    started = time.perf_counter()
    subprocess.run(["curl", "-sf", "-o", "/dev/null", "-T", str(part), url], check=True)
    wall = time.perf_counter() - started
    s3.delete_object(Bucket=s3_env["AWS_BUCKET"], Key=key)
    return {"bytes": size, "tool": "curl -T", "wall_s": round(wall, 3),
            "mib_s": round(size / MiB / wall, 1)}  # fmt: skip


if __name__ == "__main__":
    main()
