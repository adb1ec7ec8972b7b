"""The intake client against every service as a process: resume after kill -9, re-signing,
throttled progress, batches, and the CLI's error line."""

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from intake_client import IntakeApi, StateFile, UploadManager, UploadOptions
from intake_client.models import PartUrl
from intake_contracts import keys
from tests.conftest import Caller, System
from tests.support import stack
from tests.support.waiting import eventually

if TYPE_CHECKING:
    from intake_client.progress import FileProgress

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
INTAKE = str(stack.ROOT / ".venv" / "bin" / "intake")


def random_file(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        for start in range(0, size, MiB):
            out.write(os.urandom(min(MiB, size - start)))
    return path


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def sha256_of_object(s3: Any, asset: dict[str, Any]) -> str:
    """The digest of the Asset's bytes at its permanent key, once promotion put them there
    (`complete` answers before that, naming the temp key it then deletes)."""
    key = keys.asset_key(asset["tenant_id"], uuid.UUID(asset["asset_id"]))
    deadline = time.monotonic() + 60
    while True:
        try:
            body = s3.get_object(Bucket=asset["bucket"], Key=key)["Body"]
            break
        except s3.exceptions.NoSuchKey:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    digest = hashlib.sha256()
    for block in body.iter_chunks(MiB):
        digest.update(block)
    return digest.hexdigest()


def cli_env(system: System, token: str) -> dict[str, str]:
    return {**os.environ, "INTAKE_URL": system.gateway_url, "INTAKE_TOKEN": token}


def state_entries(path: Path) -> dict[str, Any]:
    try:
        uploads: dict[str, Any] = json.loads(path.read_text())["uploads"]
    except (FileNotFoundError, ValueError, KeyError):
        return {}
    return uploads


@pytest.mark.parametrize("algorithm", [None, "SHA256"])
async def test_a_killed_upload_resumes_and_sends_only_the_missing_parts(
    system: System,
    caller: Caller,
    api: httpx.AsyncClient,
    s3: Any,
    tmp_path: Path,
    algorithm: str | None,
) -> None:
    """SHA256: the rerun completes the COMPOSITE upload with every part's checksum, reading
    the parts the killed run sent from the file again."""
    file = random_file(tmp_path / "big.bin", 64 * MiB)  # 8 parts of 8 MiB
    state = tmp_path / "uploads.json"
    command = [INTAKE, "upload", str(file), "--parallel", "2", "--state-file", str(state)]
    command += ["--json", "--quiet", *(["--checksum-algorithm", algorithm] if algorithm else [])]
    env = cli_env(system, caller.token)
    # Rate-limited so the kill surely lands midway; the rerun goes at full speed.
    first = subprocess.Popen([*command, "--limit-rate", "16M"], env=env, stdout=subprocess.PIPE)

    async def parts_done() -> int:
        return sum(len(e.get("parts_done", {})) for e in state_entries(state).values())

    try:
        await eventually(parts_done, lambda n: n >= 2, timeout_s=60, interval_s=0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    assert first.returncode == -signal.SIGKILL
    [entry] = state_entries(state).values()
    session_id = entry["upload_session_id"]
    resume = await api.get(f"/app/uploads/{session_id}/resume", headers=caller.headers)
    stored = {part["part_number"] for part in resume.json()["uploaded_parts"]}
    assert 2 <= len(stored) < 8

    second = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=180, check=False
    )

    assert second.returncode == 0, (second.stdout, second.stderr)
    [result] = json.loads(second.stdout)
    assert result["status"] == "completed"
    assert result["resumed"] is True
    assert result["upload_session_id"] == session_id
    assert result["parts_total"] == 8
    # A part whose last byte left before the kill may still land in S3 after our look, so
    # the rerun can find more than `stored` - never fewer - and sends exactly the rest.
    assert result["parts_skipped"] >= len(stored)
    assert result["parts_sent"] == 8 - result["parts_skipped"]
    assert result["asset"]["checksum_algorithm"] == (algorithm or "CRC32C")
    if algorithm == "SHA256":  # S3's COMPOSITE value: a SHA-256 of the parts' SHA-256s
        data = file.read_bytes()
        parts = (data[offset : offset + 8 * MiB] for offset in range(0, len(data), 8 * MiB))
        digests = b"".join(hashlib.sha256(part).digest() for part in parts)
        composite = base64.b64encode(hashlib.sha256(digests).digest()).decode()
        assert result["asset"]["checksum"] == f"{composite}-8"
    assert sha256_of_object(s3, result["asset"]) == sha256_of_file(file)
    assert state_entries(state) == {}  # a completed upload is forgotten


def tampered(url: PartUrl) -> PartUrl:
    """The same URL with one signature digit changed: S3 answers 403 as for an expired URL."""
    head, _, signature = url.url.rpartition("X-Amz-Signature=")
    flipped = ("1" if signature[0] != "1" else "2") + signature[1:]
    return replace(url, url=f"{head}X-Amz-Signature={flipped}")


async def test_a_rejected_part_url_is_signed_again_transparently(
    system: System, caller: Caller, s3: Any, tmp_path: Path
) -> None:
    file = random_file(tmp_path / "resign.bin", 20 * MiB)
    api = IntakeApi(system.gateway_url, caller.token)
    signings: list[list[int]] = []

    async def first_batch_tampered(
        session_id: str, numbers: list[int], checksums: list[str] | None
    ) -> list[PartUrl]:
        urls = await api.sign_parts(session_id, numbers, checksums)
        signings.append(numbers)
        return [tampered(url) for url in urls] if len(signings) == 1 else urls

    state = StateFile(tmp_path / "uploads.json")
    try:
        async with UploadManager(api, state=state, signer=first_batch_tampered) as manager:
            # Without checksums: with them, a batch holds only the parts hashed by then.
            options = UploadOptions(caller.brand_id, parallel=2, checksum_algorithm=None)
            [result] = await manager.upload([file], options)
    finally:
        await api.aclose()

    assert result.status == "completed", result.error
    assert result.resigned >= 1
    # The whole rejected batch is signed again at once, not part by part.
    assert [sorted(numbers) for numbers in signings] == [[1, 2, 3], [1, 2, 3]]
    assert result.parts_sent == 3
    assert result.asset is not None
    assert sha256_of_object(s3, result.asset) == sha256_of_file(file)


class ThrottlingProxy:
    """A TCP proxy in front of S3 that lets each connection upload at most `rate` bytes/s."""

    def __init__(self, upstream: str, rate: float) -> None:
        parts = urlsplit(upstream)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._rate = rate
        self.bytes_up = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        # Closing every socket ends the pipes by EOF, so no handler is left running.
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        self._writers += [writer, up_writer]
        await asyncio.gather(
            self._pipe(reader, up_writer, throttle=True),
            self._pipe(up_reader, writer, throttle=False),
        )

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, throttle: bool
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while block := await source.read(64 * 1024):
                sink.write(block)
                await sink.drain()
                if throttle:
                    self.bytes_up += len(block)
                    # Pacing the bytes is the throttle itself, not a wait for a condition.
                    await asyncio.sleep(len(block) / self._rate)
        sink.close()


class ViaProxy(httpx.AsyncBaseTransport):
    """Connects to the proxy; the Host header (and so the signature) still names S3."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(port=self._port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_progress_on_a_throttled_link_is_monotonic_and_reaches_100_percent(
    system: System, caller: Caller, s3: Any, stack_env: dict[str, str], tmp_path: Path
) -> None:
    file = random_file(tmp_path / "slow.bin", 10 * MiB)
    proxy = ThrottlingProxy(stack_env["AWS_ENDPOINT_URL"], rate=4 * MiB)
    events: list[FileProgress] = []
    api = IntakeApi(system.gateway_url, caller.token)
    s3_http = httpx.AsyncClient(transport=ViaProxy(await proxy.start()), timeout=60)
    options = UploadOptions(caller.brand_id, parallel=4, on_file=events.append)
    try:
        async with UploadManager(api, state=StateFile(tmp_path / "u.json"), s3_http=s3_http) as m:
            [result] = await m.upload([file], options)
    finally:
        await s3_http.aclose()
        await api.aclose()
        await proxy.close()

    assert result.status == "completed", result.error
    assert proxy.bytes_up >= 10 * MiB  # every byte really crossed the throttled link
    sent = [event.sent for event in events]
    assert sent == sorted(sent)
    assert len({s for s, e in zip(sent, events, strict=True) if e.phase == "uploading"}) >= 5
    assert events[-1].phase == "completed"
    assert events[-1].sent == events[-1].total == 10 * MiB
    assert result.asset is not None
    assert sha256_of_object(s3, result.asset) == sha256_of_file(file)


async def test_several_files_go_through_one_batch_and_all_complete(
    system: System, api: httpx.AsyncClient, s3: Any, tmp_path: Path
) -> None:
    tenant, brand = f"t-{uuid.uuid4().hex[:12]}", f"b-{uuid.uuid4().hex[:8]}"
    minted = subprocess.run(
        [INTAKE, "token", "--tenant", tenant, "--brand", brand],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    token = minted.stdout.strip()
    small = random_file(tmp_path / "note.txt", 1000)  # direct PUT
    large = random_file(tmp_path / "clip.bin", 6 * MiB)  # multipart
    answer = subprocess.run(
        [INTAKE, "upload", str(small), str(large), "--json", "--quiet",
         "--state-file", str(tmp_path / "u.json")],
        env=cli_env(system, token), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert answer.returncode == 0, (answer.stdout, answer.stderr)
    results = json.loads(answer.stdout)
    assert [r["status"] for r in results] == ["completed", "completed"]
    headers = {"Authorization": f"Bearer {token}"}
    views = [
        (await api.get(f"/app/uploads/{r['upload_session_id']}", headers=headers)).json()
        for r in results
    ]
    assert [v["upload_type"] for v in views] == ["direct", "multipart"]
    assert views[0]["batch_reference"] is not None
    assert views[0]["batch_reference"] == views[1]["batch_reference"]
    for result, file in zip(results, (small, large), strict=True):
        assert sha256_of_object(s3, result["asset"]) == sha256_of_file(file)


def test_an_api_error_is_one_clear_line_and_a_nonzero_exit(system: System, caller: Caller) -> None:
    answer = subprocess.run(
        [INTAKE, "status", str(uuid.uuid4())],
        env=cli_env(system, caller.token), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert answer.returncode == 1
    assert answer.stdout == ""
    assert answer.stderr.startswith("error: upload_session_not_found (404): ")
    assert answer.stderr.count("\n") == 1
    assert "Traceback" not in answer.stderr
