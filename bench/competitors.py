"""Intake beside its competitors in one sitting, against the same local S3 (SeaweedFS of the stack),
each in a bucket of its own, one system running at a time (issue 16).

- boto3 upload_file, 8 MiB parts, 4 threads: the ceiling, no server between client and S3.
- tusd 2.9.1 (Go module proxy) with its S3 store; one streaming PATCH (tus-js-client's default).
- Uppy Companion 6.2.2 (npm, pinned in bench/competitors/package-lock.json), its S3 multipart
  endpoints; the parts go straight to S3 as Uppy's AwsS3 plugin sends them.
- Intake: its services through the gateway, the `intake` CLI for uploads.

Control plane: create an upload (of a 64 MiB file, so every system starts an S3 multipart
upload) and sign one part URL, at concurrency 16: req/s, p50/p99, and the CPU time per request
of every process of the system (Intake: gateway, services, Kafka, Postgres), read from /proc,
with SeaweedFS apart. End to end: a 256 MiB and a 1 GiB file, exec of the client to its exit,
median of 3. The competitors are benchmark tools only (bench/competitors/install.sh puts them
in the state folder); nothing of theirs enters the product.

    uv run python -m bench.competitors [--runs 3] [--sizes-mib 256,1024] [--total 640]
        [--gateway URL | --start] [--only boto3,tusd,companion,intake]

Without --start, Intake is the system `make up` runs (as `make bench` does); --start runs its
services as processes of their own on free ports instead.
"""

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
from tests.support import stack, tokens
from tests.support.ports import free_port

from bench import cpu
from bench.common import RESULTS, percentiles, write
from bench.control_plane import run_concurrently
from bench.data_plane import BOTO3_UPLOAD, drop_asset, s3_client, write_random

MiB = 1024 * 1024
PART = 8 * MiB
PARALLEL = 4
CREATE_SIZE = 64 * MiB
CONCURRENCY = 16
IDLE_S = 5.0
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STATE = Path(os.environ.get("INTAKE_STATE_DIR", ROOT / ".state")).resolve()

Call = Callable[[], Awaitable[Any]]


@dataclass
class System:
    """A running system under test: where it answers and which processes are its own."""

    name: str
    url: str
    pids: dict[str, list[int]]
    version: str
    flags: list[str] = field(default_factory=list)
    bucket: str = ""


def install_competitors() -> dict[str, Path]:
    """tusd and Companion, installed once into the state folder by bench/competitors/install.sh."""
    answer = subprocess.run(
        ["bash", str(ROOT / "bench" / "competitors" / "install.sh")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    found = dict(item.split("=", 1) for item in answer.stdout.split())
    return {name: Path(where) for name, where in found.items()}


def wait_listening(url: str, process: subprocess.Popen[bytes], deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
        else:
            return
    raise RuntimeError(f"nothing answered at {url}")


@contextlib.contextmanager
def competitor_process(
    command: list[str], env: dict[str, str], url: str, log: Path
) -> Iterator[int]:
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_listening(url, process)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ensure_bucket(s3: Any, bucket: str) -> None:
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)


@contextlib.contextmanager
def tusd(binary: Path, env: dict[str, str], folder: Path) -> Iterator[System]:
    port, bucket = free_port(), "bench-tusd"
    ensure_bucket(s3_client(env), bucket)
    # Setting the endpoint is what turns path-style addressing on (there is no flag for it).
    flags = ["-host", "127.0.0.1", "-port", str(port), "-base-path", "/files/"]
    flags += ["-s3-bucket", bucket, "-s3-endpoint", env["AWS_ENDPOINT_URL"], "-verbose=false"]
    tmp = folder / "tusd-tmp"
    tmp.mkdir(exist_ok=True)
    competitor_env = {**_aws(env), "TMPDIR": str(tmp), "PATH": os.environ["PATH"]}
    version = f"tusd {binary.parent.name.removeprefix('tusd-')} ({_output(['go', 'version'])})"
    url = f"http://127.0.0.1:{port}"
    with competitor_process(
        [str(binary), *flags], competitor_env, f"{url}/files/", folder / "tusd.log"
    ) as pid:
        yield System("tusd", url, {"tusd": [pid]}, " ".join(version.split()), flags, bucket)


@contextlib.contextmanager
def companion(folder_of_install: Path, env: dict[str, str], folder: Path) -> Iterator[System]:
    port, bucket = free_port(), "bench-companion"
    ensure_bucket(s3_client(env), bucket)
    data = folder / "companion-data"
    data.mkdir(exist_ok=True)
    settings = {
        "NODE_ENV": "production",
        "COMPANION_PORT": str(port),
        "COMPANION_DOMAIN": f"127.0.0.1:{port}",
        "COMPANION_PROTOCOL": "http",
        "COMPANION_SECRET": secrets.token_hex(16),
        "COMPANION_PREAUTH_SECRET": secrets.token_hex(16),
        "COMPANION_DATADIR": str(data),
        "COMPANION_AWS_KEY": env["AWS_ACCESS_KEY_ID"],
        "COMPANION_AWS_SECRET": env["AWS_SECRET_ACCESS_KEY"],
        "COMPANION_AWS_BUCKET": bucket,
        "COMPANION_AWS_REGION": "us-east-1",
        "COMPANION_AWS_ENDPOINT": env["AWS_ENDPOINT_URL"],
        "COMPANION_AWS_FORCE_PATH_STYLE": "true",
        "COMPANION_CLIENT_ORIGINS": "true",
        # Production mode refuses to start without it; no remote provider is used here.
        "COMPANION_UPLOAD_URLS": "http://127.0.0.1/",
        # The bundled AWS SDK would otherwise sign an empty body's CRC into every part URL
        # and S3 would refuse the real PUT (400 BadDigest).
        "AWS_REQUEST_CHECKSUM_CALCULATION": "WHEN_REQUIRED",
    }
    competitor_env = {"PATH": os.environ["PATH"], **settings}
    package = json.loads(
        (folder_of_install / "node_modules/@uppy/companion/package.json").read_text()
    )
    node = _output(["node", "--version"])
    script = ROOT / "bench" / "competitors" / "companion.mjs"
    command = ["node", str(script), str(folder_of_install)]
    url = f"http://127.0.0.1:{port}"
    shown = {k: v for k, v in settings.items() if "SECRET" not in k}
    with competitor_process(command, competitor_env, url, folder / "companion.log") as pid:
        yield System(
            "companion", url, {"companion": [pid]},
            f"@uppy/companion {package['version']} on node {node}",
            [f"{k}={v}" for k, v in shown.items()], bucket,
        )  # fmt: skip


@contextlib.contextmanager
def intake_running(url: str) -> Iterator[System]:
    """The system `make up` started (its pid files name the services), as `make bench` runs."""
    pids = {}
    for pid_file in sorted((STATE / "services").glob("*.pid")):
        pids[pid_file.stem] = [int(pid_file.read_text().strip())]
    if not pids:
        raise RuntimeError(f"no services of `make up` under {STATE}: run it, or pass --start")
    yield System("intake", url, pids | _native(), _intake_version(), ["make up"], "")


def _native() -> dict[str, list[int]]:
    native = cpu.stack_pids(STATE)
    return {"kafka": native["kafka"], "postgres": native["postgres"]}


def _intake_version() -> str:
    return f"intake {_output(['git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD'])}"


@contextlib.contextmanager
def intake(env: dict[str, str]) -> Iterator[System]:
    """Every Intake service as a process of its own (free ports), production settings."""
    sys.path.insert(0, str(ROOT / "deploy"))
    import launcher  # type: ignore[import-not-found]  # deploy/ is no package

    service_env = {**os.environ, **env, "INTAKE_LOG_LEVEL": "WARNING"}
    ports = {name: free_port() for name in launcher.DEFAULT_PORTS}
    log_dir = STATE / "bench-logs" / f"competitors-{uuid.uuid4().hex[:8]}"
    processes = launcher.build(service_env, log_dir, free_port(), ports)
    try:
        for process in processes.values():
            process.start()
        for process in processes.values():
            process.wait_ready(180)
        pids = {name: [process.process.pid] for name, process in processes.items()}
        url = f"http://127.0.0.1:{processes['gateway'].api_port}"
        yield System("intake", url, pids | _native(), _intake_version(),
                     ["INTAKE_LOG_LEVEL=WARNING"], env["AWS_BUCKET"])  # fmt: skip
    finally:
        for process in reversed(list(processes.values())):
            process.stop()


def _output(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()


def _aws(env: dict[str, str]) -> dict[str, str]:
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    return {**{name: env[name] for name in names}, "AWS_REGION": "us-east-1"}


# Control plane ------------------------------------------------------------------------------


def calls(system: System, http: httpx.AsyncClient) -> dict[str, Call]:
    """The system's create and sign-one-part-URL requests (sign needs one created upload)."""
    if system.name == "intake":
        tenant, brand = tokens.new_tenant(), "bench"
        http.headers["Authorization"] = f"Bearer {tokens.mint(tenant, [brand])}"
        body = {"file_name": "p.bin", "file_size": CREATE_SIZE,
                "mime_type": "application/octet-stream", "brand_id": brand}  # fmt: skip

        async def create() -> Any:
            return _ok(await http.post("/app/uploads/initiate", json=body)).json()

        async def sign_setup() -> Call:
            path = f"/app/uploads/{(await create())['upload_session_id']}/multipart-part-url"
            return lambda: _ok_async(http.post(path, json={"part_number": 1}))

    elif system.name == "companion":
        meta = {"filename": "p.bin", "type": "application/octet-stream", "metadata": {}}

        async def create() -> Any:
            return _ok(await http.post("/s3/multipart", json=meta)).json()

        async def sign_setup() -> Call:
            created = await create()
            path = f"/s3/multipart/{created['uploadId']}/1"
            return lambda: _ok_async(http.get(path, params={"key": created["key"]}))

    else:
        headers = {"Tus-Resumable": "1.0.0", "Upload-Length": str(CREATE_SIZE)}

        async def create() -> Any:
            return _ok(await http.post("/files/", headers=headers))

        sign_setup = None  # type: ignore[assignment]  # tus has no signed URLs
    found: dict[str, Call] = {"create": create}
    if sign_setup is not None:
        found["sign_setup"] = sign_setup
    return found


def _ok(answer: httpx.Response) -> httpx.Response:
    answer.raise_for_status()
    return answer


async def _ok_async(pending: Awaitable[httpx.Response]) -> httpx.Response:
    return _ok(await pending)


def s3_pids() -> dict[str, list[int]]:
    return {"seaweedfs": cpu.stack_pids(STATE)["seaweedfs"]}


async def timed_load(system: System, call: Call, total: int) -> dict[str, Any]:
    """`total` calls at concurrency 16: latency, rate, CPU per request of the system and S3."""
    for _ in range(CONCURRENCY * 2):  # warm-up: connections, caches, prepared statements
        with contextlib.suppress(httpx.HTTPStatusError):
            await call()
    failures: list[str] = []

    async def counted() -> None:
        # An overloaded system answers 503/504 now and then: counted, never the end of a run.
        try:
            await call()
        except httpx.HTTPStatusError as error:
            failures.append(str(error.response.status_code))

    before, s3_before = cpu.snapshot(system.pids), cpu.snapshot(s3_pids())
    samples, rate = await run_concurrently(counted, total, CONCURRENCY)
    after, s3_after = cpu.snapshot(system.pids), cpu.snapshot(s3_pids())
    return {
        **percentiles(samples),
        "rps": round(rate, 1),
        "failed": len(failures),
        "server_cpu_ms_per_request": cpu.per_operation_ms(before, after, total),
        "s3_cpu_ms_per_request": cpu.per_operation_ms(s3_before, s3_after, total)["total"],
    }


async def idle_cpu(system: System) -> dict[str, float]:
    """Share of one core the system uses doing nothing, over IDLE_S."""
    before = cpu.snapshot(system.pids)
    await asyncio.sleep(IDLE_S)
    spent = cpu.per_operation_ms(before, cpu.snapshot(system.pids), 1)
    return {name: round(ms / 1000 / IDLE_S * 100, 1) for name, ms in spent.items()}


async def control_plane(system: System, total: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    # Cookies are kept, as a browser would: Companion makes a session per cookie-less request.
    async with httpx.AsyncClient(base_url=system.url, timeout=60, limits=limits) as http:
        await asyncio.sleep(IDLE_S)  # let start-up work settle before the idle window
        figures: dict[str, Any] = {"idle_cpu_percent_of_a_core": await idle_cpu(system)}
        found = calls(system, http)
        figures["create_c16"] = await timed_load(system, found["create"], total)
        if "sign_setup" in found:
            figures["sign_c16"] = await timed_load(system, await found["sign_setup"](), total)
    return figures


# End to end ---------------------------------------------------------------------------------


def run_client(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    answer = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if answer.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed: {answer.stderr[-2000:]}")
    return wall, answer.stdout


def upload_once(
    system: System | None, path: Path, env: dict[str, str], folder: Path
) -> dict[str, Any]:
    """One upload, exec of the client to its exit; the object is deleted after the clock."""
    s3, size = s3_client(env), path.stat().st_size
    if system is None:  # boto3 straight to S3
        bucket, key = "bench-boto3", f"bench/{uuid.uuid4().hex}"
        ensure_bucket(s3, bucket)
        command = [sys.executable, "-c", BOTO3_UPLOAD, env["AWS_ENDPOINT_URL"]]
        command += [env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], bucket, key]
        wall, _ = run_client([*command, str(path), str(PART), str(PARALLEL)])
        s3.delete_object(Bucket=bucket, Key=key)
        return {"wall_s": round(wall, 3), "mib_s": round(size / MiB / wall, 1)}
    if system.name == "intake":
        return intake_upload(system, path, env, folder)
    clients = [sys.executable, "-m", "bench.competitor_clients", system.name, system.url, str(path)]
    wall, out = run_client([*clients, "--parallel", str(PARALLEL), "--part-mib", str(PART // MiB)])
    written = json.loads(out)
    if system.name == "companion":
        s3.delete_object(Bucket=system.bucket, Key=written["key"])
    else:  # tusd names its object after the upload id, beside a .info object
        upload_id = written["location"].rsplit("/", 1)[1].split("+", 1)[0]
        for key in (upload_id, f"{upload_id}.info"):
            s3.delete_object(Bucket=system.bucket, Key=key)
    return {"wall_s": round(wall, 3), "mib_s": round(size / MiB / wall, 1)}


def intake_upload(
    system: System, path: Path, env: dict[str, str], folder: Path, flags: Sequence[str] = ()
) -> dict[str, Any]:
    """One `intake upload` (with `flags`), exec to exit; promotion is waited for after the
    clock. The figures name the checksum algorithm the Asset declared."""
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    client_env = {**os.environ, "INTAKE_URL": system.url}
    client_env["INTAKE_TOKEN"] = tokens.mint(tenant, ["bench"])
    command = [str(BIN / "intake"), "upload", str(path), "--parallel", str(PARALLEL), *flags]
    command += ["--json", "--quiet", "--state-file", str(folder / "intake-state.json")]
    wall, out = run_client(command, client_env)
    [result] = json.loads(out)
    if result["status"] != "completed":
        raise RuntimeError(f"intake upload failed: {result['error']}")
    # Promotion (a server-side copy) follows the answer; the next run waits for it, so that
    # it does not compete for the disk, and its time is recorded apart.
    waited = time.perf_counter()
    drop_asset(s3_client(env), result["asset"])
    size = path.stat().st_size
    return {
        "wall_s": round(wall, 3),
        "mib_s": round(size / MiB / wall, 1),
        "transfer_s": round(result["transfer_s"], 3),
        "complete_s": round(result["complete_s"], 3),
        "promotion_done_after_exit_s": round(time.perf_counter() - waited, 3),
        "checksum_algorithm": result["asset"].get("checksum_algorithm"),
    }


def end_to_end(
    system: System | None, files: dict[int, Path], runs: int, env: dict[str, str], folder: Path
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for mib, path in files.items():
        samples = [upload_once(system, path, env, folder) for _ in range(runs)]
        figures[f"upload_{mib}mib"] = {
            "median_mib_s": statistics.median(sample["mib_s"] for sample in samples),
            "runs": samples,
        }
    return figures


# One sitting ---------------------------------------------------------------------------------


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measure_system(
    opened: contextlib.AbstractContextManager[System], files: dict[int, Path], args: Any,
    env: dict[str, str], folder: Path,
) -> dict[str, Any]:  # fmt: skip
    with opened as system:
        figures: dict[str, Any] = {"version": system.version, "flags": system.flags}
        figures["bucket"], figures["load_average_at_start"] = system.bucket, load()
        figures |= asyncio.run(control_plane(system, args.total))
        figures |= end_to_end(system, files, args.runs, env, folder)
        figures["load_average_at_end"] = load()
    print(system.name, json.dumps(figures), flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes-mib", default="256,1024")
    parser.add_argument("--total", type=int, default=640, help="requests per c16 measurement")
    parser.add_argument("--only", default="boto3,tusd,companion,intake")
    parser.add_argument("--gateway", default=os.environ.get("INTAKE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--start", action="store_true", help="run Intake's services for the bench")
    parser.add_argument("--keep", action="store_true", help="keep other systems' earlier figures")
    args = parser.parse_args()
    only = args.only.split(",")
    tools = install_competitors()
    env = stack.stack_env()
    figures: dict[str, Any] = {"load_average_at_start": load(), "concurrency": CONCURRENCY}
    if args.keep and (RESULTS / "competitors.json").exists():
        # The systems measured before (e.g. boto3) stay; the others are measured again.
        figures = json.loads((RESULTS / "competitors.json").read_text())["figures"]
    figures |= {"part_bytes": PART, "parallel": PARALLEL, "create_file_bytes": CREATE_SIZE}
    with tempfile.TemporaryDirectory(prefix="intake-competitors-", dir="/tmp") as scratch:
        folder = Path(scratch)
        files = {}
        for mib in (int(size) for size in args.sizes_mib.split(",")):
            files[mib] = folder / f"{mib}mib.bin"
            write_random(files[mib], mib * MiB)
        systems: dict[str, Callable[[], contextlib.AbstractContextManager[System]]] = {
            "intake": lambda: intake(env) if args.start else intake_running(args.gateway),
            "tusd": lambda: tusd(tools["tusd"], env, folder),
            "companion": lambda: companion(tools["companion"], env, folder),
        }
        if "boto3" in only:
            figures["boto3"] = {
                "version": f"boto3 {metadata.version('boto3')} upload_file",
                "flags": [f"multipart_chunksize={PART}", f"max_concurrency={PARALLEL}"],
                "bucket": "bench-boto3", "load_average_at_start": load(),
                **end_to_end(None, files, args.runs, env, folder),
            }  # fmt: skip
        write("competitors", figures)  # after each system: a long sitting keeps what it measured
        for name, opened in systems.items():
            if name in only:
                figures[name] = measure_system(opened(), files, args, env, folder)
                figures["load_average_at_end"] = load()
                write("competitors", figures)
    print(RESULTS / "competitors.json")


if __name__ == "__main__":
    main()
