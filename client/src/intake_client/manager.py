"""UploadManager: many files through initiation, S3 and completion, resumable across runs."""

import asyncio
import os
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from intake_client.api import IntakeApi
from intake_client.checksums import PartChecksums
from intake_client.digests import ALGORITHMS, SHA256
from intake_client.errors import FileChangedError, IntakeApiError
from intake_client.models import DirectUpload
from intake_client.multipart import (
    MultipartSender,
    PartSigner,
    Transfer,
    TransferStats,
    send_direct,
)
from intake_client.plan import parts_to_send, plan_parts
from intake_client.progress import FileTracker
from intake_client.results import FileResult, UploadOptions
from intake_client.retry import RetryPolicy
from intake_client.sessions import Job, Prepared, Sessions, guarded
from intake_client.state import StateFile
from intake_client.storage import Storage
from intake_client.transfer import RateLimit
from intake_client.wire import off_loop

if TYPE_CHECKING:
    import httpx

# Answers after which a session can never take these bytes: forget it and start over.
_DEAD = frozenset({"upload_cancelled", "upload_failed", "upload_session_expired"})


class UploadManager:
    """Uploads files like the spec's frontend UploadManager, but from disk and resumable.

    Args:
        api: the gateway.
        state: where sessions are remembered between runs (default ~/.intake/uploads.json).
        s3_http: the carrier of the presigned PUTs, a Storage or an httpx client (tests
            throttle, proxy or damage them); without it they go over the standard library's
            connections (storage.py), or over httpx's when a proxy is configured in the
            environment (http.client ignores those).
        signer: signs part URLs; defaults to the API's batch signing.
    """

    def __init__(
        self,
        api: IntakeApi,
        *,
        state: StateFile | None = None,
        s3_http: "Storage | httpx.AsyncClient | None" = None,
        signer: PartSigner | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._api = api
        self.sessions = Sessions(api, state or StateFile())
        self._own_http = s3_http is None
        self._http = s3_http or _default_carrier()
        self._signer: PartSigner = signer or api.sign_parts
        self._retry = retry or RetryPolicy()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._own_http:  # a client handed in is its owner's to close
            return
        if isinstance(self._http, Storage):
            self._http.close()
        else:
            await self._http.aclose()

    async def upload(self, paths: list[Path], options: UploadOptions) -> list[FileResult]:
        """Upload every file; one file's failure is in its result and never stops the others.

        The sessions are found or started on a thread (their calls block, see sessions.py); if
        this is cancelled meanwhile, that step still finishes there and the state file keeps
        its sessions for the next run.
        """
        prepared = await off_loop(lambda: self.sessions.prepare(paths, options))
        return await self.send(prepared, options)

    async def send(self, prepared: Prepared, options: UploadOptions) -> list[FileResult]:
        """The bytes and completion of files whose sessions `sessions.prepare` found or made."""
        results = {job.path: job.result for job in prepared.jobs}
        limit = RateLimit(options.limit_rate) if options.limit_rate else None
        transfer = Transfer(self._http, asyncio.Semaphore(options.parallel), self._retry, limit)
        files = asyncio.Semaphore(options.parallel)

        async def run(job: Job) -> None:
            async with files:
                with guarded(job):
                    await self._upload_one(job, transfer, options)

        await asyncio.gather(*(run(job) for job in prepared.jobs if job.ready))
        return [
            results.get(p) or FileResult(p, status="failed", error=_stat_error(p))
            for p in prepared.paths
        ]

    async def _upload_one(self, job: Job, transfer: Transfer, options: UploadOptions) -> None:
        session_id = job.result.upload_session_id or ""
        tracker = FileTracker(job.path, job.size, session_id, options.on_file, options.on_part)
        started = time.monotonic()
        try:
            parts = await self._send(job, session_id, tracker, transfer, options.parallel)
            self._check_unchanged(job)
            job.result.transfer_s = time.monotonic() - started
            tracker.phase("completing")
            try:
                answer = await self._complete(job, session_id, parts, options.title)
            finally:
                job.result.complete_s = time.monotonic() - started - job.result.transfer_s
        except BaseException:
            tracker.phase("failed")
            raise
        self.sessions.finish(job, session_id, answer.get("asset"))
        tracker.phase("completed")

    async def _send(
        self, job: Job, session_id: str, tracker: FileTracker, transfer: Transfer, parallel: int
    ) -> list[dict[str, Any]] | None:
        """The parts list for completion (None for a direct upload)."""
        if job.fields["upload_type"] == "direct":
            direct = job.direct or await self._fresh_direct(session_id)
            stats = await send_direct(
                transfer, direct, job.path, job.size, tracker=tracker,
                fresh_url=lambda: self._fresh_direct(session_id),
            )  # fmt: skip
            self._count(job, stats, skipped=0, total=1)
            return None
        parts = plan_parts(job.size, job.fields["chunk_size"], job.fields["part_count"])
        todo = parts_to_send(parts, job.uploaded)
        tracker.confirmed = job.size - sum(part.size for part in todo)
        todo_numbers = {part.number for part in todo}
        etags = {p.part_number: p.etag for p in job.uploaded if p.part_number not in todo_numbers}
        checksums = None
        algorithm = job.fields.get("checksum_algorithm")
        if algorithm in ALGORITHMS:
            checksums = PartChecksums(job.path, todo, algorithm, job.part_checksums)
        sender = MultipartSender(
            transfer, self._signer, session_id, job.path, tracker=tracker,
            on_part_done=lambda number, etag: self.sessions.record_part(job, number, etag),
            signed=job.signed, checksums=checksums,
        )  # fmt: skip
        tracker.phase("uploading")
        stats = await sender.send(todo, parallel)
        etags |= stats.etags
        skipped = len(parts) - len(todo)
        self._count(job, stats, skipped=skipped, total=len(parts))
        completed: list[dict[str, Any]] = [
            {"part_number": n, "etag": etags[n]} for n in sorted(etags)
        ]
        if checksums is not None and algorithm == SHA256:
            # A SHA256 upload is COMPOSITE: S3 completes it only with every part's checksum.
            named = await checksums.each([part for part in parts if part.number in etags])
            for entry in completed:
                entry["checksum"] = named[entry["part_number"]]
        return completed

    async def _fresh_direct(self, session_id: str) -> DirectUpload:
        resume = await self._api.resume(session_id)
        if resume.direct is None:
            raise IntakeApiError("invalid_session_state", 409, f"session is {resume.status}")
        return resume.direct

    async def _complete(
        self, job: Job, session_id: str, parts: list[dict[str, Any]] | None, title: str | None
    ) -> dict[str, Any]:
        try:
            return await self._api.complete(session_id, parts, title)
        except IntakeApiError as error:
            if error.code in _DEAD:
                self.sessions.forget(job)
            raise

    def _check_unchanged(self, job: Job) -> None:
        stat = job.path.stat()
        if (stat.st_size, stat.st_mtime_ns) != (job.size, job.mtime_ns):
            raise FileChangedError(f"{job.path} changed while it was uploading")

    @staticmethod
    def _count(job: Job, stats: TransferStats, *, skipped: int, total: int) -> None:
        result = job.result
        result.parts_sent, result.parts_skipped, result.parts_total = (
            stats.parts_sent,
            skipped,
            total,
        )
        result.resigned, result.retries = stats.resigned, stats.retries
        result.resent_for_digest = stats.resent_for_digest


def _default_carrier() -> "Storage | httpx.AsyncClient":
    if not proxy_configured(os.environ):
        return Storage()
    # httpx honours HTTP(S)_PROXY, ALL_PROXY and NO_PROXY as curl does; http.client has no
    # notion of them, and an upload behind a proxy must keep working.
    import httpx  # noqa: PLC0415 - only behind a proxy

    return httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))


def proxy_configured(environ: Mapping[str, str]) -> bool:
    names = {"http_proxy", "https_proxy", "all_proxy"}
    return any(value and name.lower() in names for name, value in environ.items())


def _stat_error(path: Path) -> OSError:
    if path.is_dir():
        return IsADirectoryError("is a directory")
    return FileNotFoundError("no such file")
