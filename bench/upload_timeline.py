"""Where an upload's wall time goes: `intake upload` beside boto3's upload_file, same file, same
S3, same geometry (8 MiB parts, 4 in flight), each a process timed from exec to exit (issue 16).

Each client runs under a tracer (the `_INTAKE_TRACER` / `_BOTO3_TRACER` programs below) that
stamps wall-clock times without changing what the client does: for Intake, an import hook
wraps the gateway exchange (intake_client.wire) and the part PUT (intake_client.transfer) as
their modules load, so nothing is imported earlier than the CLI would; for boto3, botocore's
own before-call/after-call events. The milestones, in ms from exec:

- `started`: the tracer's first line (the interpreter and its site are up);
- `first_request`: the first request leaves (initiate; boto3: CreateMultipartUpload);
- `session_ready`: its answer is in;
- `first_part`: the first part PUT starts;  `last_part`: the last part's answer is in;
- `complete_sent` / `complete_done`: completion (boto3: CompleteMultipartUpload);
- `exit`: the parent sees the process end.

    uv run python -m bench.upload_timeline [--start | --gateway URL] [--size-mib 256]
        [--runs 3] [--parallel 4] [--only boto3,intake] [--before REV]

--start runs Intake's services on free ports for the run; --serve only runs them (for many
runs against `--gateway URL`). `--before REV` adds the client of git revision REV (as
bench/cli_first_request.py does), interleaved run by run with the current one and boto3.
"""

import argparse
import compileall
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.support import stack, tokens

from bench.cli_first_request import client_of
from bench.common import write
from bench.data_plane import drop_asset, s3_client, write_random
from bench.peers import PART, ensure_bucket, intake, load

MiB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]

# Stamps are appended to a list and written once, at exit: no I/O on the clock meanwhile.
_TRACE_HEAD = """
import atexit, json, os, sys, time
_stamps = [("started", time.time(), "")]
def _stamp(name, detail=""):
    _stamps.append((name, time.time(), detail))
def _dump():
    _stamp("atexit")
    with open(os.environ["TIMELINE_OUT"], "w") as out:
        json.dump(_stamps, out)
atexit.register(_dump)
"""

_INTAKE_TRACER = (
    _TRACE_HEAD
    + """
import importlib.abc, importlib.machinery

def _patch_wire(module):
    exchange = module.Wire._exchange
    def traced(self, method, target, payload, headers):
        _stamp("request", target)
        try:
            return exchange(self, method, target, payload, headers)
        finally:
            _stamp("answer", target)
    module.Wire._exchange = traced

def _patch_transfer(module):
    put_range = module.put_range
    async def traced(http, url, path, offset, size, **kwargs):
        _stamp("part_start", str(offset))
        try:
            return await put_range(http, url, path, offset, size, **kwargs)
        finally:
            _stamp("part_done", str(offset))
    module.put_range = traced

_PATCHES = {"intake_client.wire": _patch_wire, "intake_client.transfer": _patch_transfer}

class _After(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        patch = _PATCHES.get(name)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            patch(module)
            _stamp("imported", name)
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _After())
from intake_client.cli import main
sys.argv[0] = "intake"
main()
"""
)

_BOTO3_TRACER = (
    _TRACE_HEAD
    + """
endpoint, key_id, secret, bucket, key, path, part, parallel = sys.argv[1:]
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
_stamp("imported", "boto3")
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key_id,
                  aws_secret_access_key=secret, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, max_pool_connections=32))
_stamp("imported", "client")
def _before(model, params, **_):
    _stamp("request", model.name + " " + str(params.get("PartNumber", "")))
def _after(model, **_):
    _stamp("answer", model.name)
s3.meta.events.register("before-call.s3", _before)
s3.meta.events.register("after-call.s3", _after)
config = TransferConfig(multipart_threshold=int(part), multipart_chunksize=int(part),
                        max_concurrency=int(parallel), use_threads=True)
s3.upload_file(path, bucket, key, Config=config)
"""
)


def traced_run(program: str, args: list[str], env: dict[str, str], out: Path) -> dict[str, Any]:
    """Run one traced client; its stamps as ms from exec, plus its stdout."""
    cpu_before, started = os.times(), time.time()
    answer = subprocess.run(
        [sys.executable, "-c", program, *args], env={**env, "TIMELINE_OUT": str(out)},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    ended, cpu_after = time.time(), os.times()
    cpu_ms = 1000 * sum(getattr(cpu_after, f) - getattr(cpu_before, f)
                        for f in ("children_user", "children_system"))  # fmt: skip
    if answer.returncode != 0:
        raise RuntimeError(f"traced client failed: {answer.stderr[-2000:]}")
    stamps = [
        (name, (at - started) * 1000, detail) for name, at, detail in json.loads(out.read_text())
    ]
    exit_ms = (ended - started) * 1000
    return {"stamps": stamps, "exit_ms": exit_ms, "cpu_ms": cpu_ms, "stdout": answer.stdout}


def milestones(
    stamps: list[tuple[str, float, str]], exit_ms: float, boto: bool
) -> dict[str, float]:
    def first(name: str, test: Any = lambda _: True) -> float:
        return min(at for n, at, d in stamps if n == name and test(d))

    def last(name: str, test: Any = lambda _: True) -> float:
        return max(at for n, at, d in stamps if n == name and test(d))

    if boto:
        is_part = lambda d: d.startswith("UploadPart")  # noqa: E731
        is_complete = lambda d: d.startswith("CompleteMultipartUpload")  # noqa: E731
        found = {"first_part": first("request", is_part), "last_part": last("answer", is_part)}
    else:
        is_part = None
        is_complete = lambda d: d.endswith("/complete")  # noqa: E731
        found = {"first_part": first("part_start"), "last_part": last("part_done")}
        found["transfer_loaded"] = first("imported", lambda d: d == "intake_client.transfer")
    found |= {
        "started": first("started"),
        "first_request": first("request"),
        "session_ready": first("answer"),
        "complete_sent": first("request", is_complete),
        "complete_done": first("answer", is_complete),
        "exit": exit_ms,
    }
    return {name: round(at, 1) for name, at in sorted(found.items(), key=lambda item: item[1])}


def boto3_once(path: Path, env: dict[str, str], parallel: int, out: Path) -> dict[str, Any]:
    s3, bucket, key = s3_client(env), "bench-boto3", f"bench/{uuid.uuid4().hex}"
    ensure_bucket(s3, bucket)
    args = [env["AWS_ENDPOINT_URL"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]]
    run = traced_run(_BOTO3_TRACER, [*args, bucket, key, str(path), str(PART), str(parallel)],
                     dict(os.environ), out)  # fmt: skip
    s3.delete_object(Bucket=bucket, Key=key)
    return milestones(run["stamps"], run["exit_ms"], boto=True) | {"cpu_ms": run["cpu_ms"]}


def intake_once(
    url: str, path: Path, env: dict[str, str], parallel: int, out: Path,
    *, python_path: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    client_env = {**os.environ, "INTAKE_URL": url}
    if python_path is not None:
        client_env["PYTHONPATH"] = str(python_path)
    client_env["INTAKE_TOKEN"] = tokens.mint(f"bench-{uuid.uuid4().hex[:8]}", ["bench"])
    args = ["upload", str(path), "--parallel", str(parallel), "--json", "--quiet"]
    args += ["--state-file", str(out.with_suffix(".state.json"))]
    run = traced_run(_INTAKE_TRACER, args, client_env, out)
    [result] = json.loads(run["stdout"])
    if result["status"] != "completed":
        raise RuntimeError(f"intake upload failed: {result['error']}")
    drop_asset(s3_client(env), result["asset"])  # promotion done before the next run
    return milestones(run["stamps"], run["exit_ms"], boto=False) | {"cpu_ms": run["cpu_ms"]}


def summary(samples: list[dict[str, float]], size: int) -> dict[str, Any]:
    medians = {name: round(statistics.median(s[name] for s in samples), 1) for name in samples[0]}
    cpu_ms = medians.pop("cpu_ms")  # the client's own CPU (user + system), steadier than wall
    moving = [(s["last_part"] - s["first_part"]) / 1000 for s in samples]
    return {
        "median_ms": medians,
        "mib_s_end_to_end": round(size / MiB / (medians["exit"] / 1000), 1),
        "mib_s_while_parts_move": round(size / MiB / statistics.median(moving), 1),
        "before_first_part_ms": medians["first_part"],
        "after_last_part_ms": round(medians["exit"] - medians["last_part"], 1),
        "client_cpu_ms": cpu_ms,
        "runs": samples,
    }


def serve(env: dict[str, str]) -> None:
    """One system for many A/B runs (`--gateway URL` from another shell), until stopped by
    SIGTERM or SIGINT (a background job ignores SIGINT); its services end with it."""
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda *_: sys.exit(0))
    with intake(env) as system:
        print(system.url, flush=True)
        while True:
            time.sleep(3600)


def sitting(args: argparse.Namespace, env: dict[str, str], only: list[str]) -> dict[str, Any]:
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in only}
    # A gateway given by URL is used as it is (`--serve` in another shell, or `make up`).
    given = contextlib.nullcontext(SimpleNamespace(url=args.gateway))
    with (
        tempfile.TemporaryDirectory(prefix="intake-timeline-", dir="/tmp") as scratch,
        intake(env) if args.start else given as system,
    ):
        path = Path(scratch) / "file.bin"
        write_random(path, args.size_mib * MiB)
        old = client_of(args.before, Path(scratch) / "before") if args.before else None
        for run in range(args.runs):  # interleaved: the clients share each moment's load
            out = Path(scratch) / f"run{run}.json"
            if "boto3" in only:
                samples["boto3"].append(boto3_once(path, env, args.parallel, out))
            if "intake" in only:
                samples["intake"].append(intake_once(system.url, path, env, args.parallel, out))
            if old is not None:
                samples["intake_before"].append(
                    intake_once(system.url, path, env, args.parallel, out, python_path=old)
                )
            print(run, {name: found[-1] for name, found in samples.items()}, flush=True)
    return {name: summary(found, args.size_mib * MiB) for name, found in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--only", default="boto3,intake")
    parser.add_argument("--gateway", default=os.environ.get("INTAKE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--start", action="store_true", help="run Intake's services for the bench")
    parser.add_argument("--name", default="upload_timeline", help="results file name")
    parser.add_argument("--serve", action="store_true", help="only run Intake until stopped")
    parser.add_argument("--before", default=None, help="also time the client of this revision")
    args = parser.parse_args()
    only, env = args.only.split(","), stack.stack_env()
    if args.serve:
        serve(env)
        return
    if args.before:
        only.append("intake_before")
    compileall.compile_dir(ROOT / "client" / "src", quiet=1)  # as a wheel install has it
    figures: dict[str, Any] = {"load_average_at_start": load(), "part_bytes": PART}
    figures |= {"parallel": args.parallel, "file_bytes": args.size_mib * MiB}
    figures |= sitting(args, env, only)
    figures["load_average_at_end"] = load()
    for name in only:
        print(name, json.dumps({k: v for k, v in figures[name].items() if k != "runs"}))
    print(write(args.name, figures))


if __name__ == "__main__":
    main()
