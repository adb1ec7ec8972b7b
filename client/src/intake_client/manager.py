"""UploadManager: many files through initiation, S3 and completion, resumable across runs."""

import asyncio
import mimetypes
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from intake_client.api import MAX_BATCH_FILES, IntakeApi
from intake_client.errors import FileChangedError, IntakeApiError, IntakeError
from intake_client.models import DirectUpload, Session, UploadedPart
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
from intake_client.state import StateEntry, StateFile, entry_key
from intake_client.transfer import RateLimit

# Answers after which a session can never take these bytes: forget it and start over.
_GONE = frozenset({"upload_session_not_found", "upload_session_expired"})
_DEAD = frozenset({"upload_cancelled", "upload_failed", "upload_session_expired"})


@dataclass
class _Job:
    path: Path
    key: str
    size: int
    mtime_ns: int
    result: FileResult
    session: Session | None = None
    uploaded: tuple[UploadedPart, ...] = ()
    direct: DirectUpload | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_session(self) -> bool:
        return self.result.upload_session_id is None and self.result.status == "pending"

    @property
    def ready(self) -> bool:
        return self.result.upload_session_id is not None and self.result.status == "pending"


class UploadManager:
    """Uploads files like the spec's frontend UploadManager, but from disk and resumable.

    Args:
        api: the gateway.
        state: where sessions are remembered between runs (default ~/.intake/uploads.json).
        s3_http: the HTTP client for presigned PUTs (tests throttle or proxy it).
        signer: signs part URLs; defaults to the API's batch signing.
    """

    def __init__(
        self,
        api: IntakeApi,
        *,
        state: StateFile | None = None,
        s3_http: httpx.AsyncClient | None = None,
        signer: PartSigner | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._api = api
        self._state = state or StateFile()
        self._own_http = s3_http is None
        # Made on first use, after the first API request: building a client loads the CA
        # bundle, which would otherwise delay that request (see cli.py).
        self._http = s3_http
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
        if self._own_http and self._http is not None:
            await self._http.aclose()

    def _s3(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
        return self._http

    async def upload(self, paths: list[Path], options: UploadOptions) -> list[FileResult]:
        """Upload every file; one file's failure is in its result and never stops the others."""
        paths = list(dict.fromkeys(paths))  # the same file twice would race for one session
        jobs = [job for job in map(self._job, paths) if job is not None]
        results = {job.path: job.result for job in jobs}
        for job in jobs:
            await self._guard(job, self._resume_known(job))
        fresh = [job for job in jobs if job.needs_session]
        await self._initiate(fresh, options)
        limit = RateLimit(options.limit_rate) if options.limit_rate else None
        transfer = Transfer(self._s3(), asyncio.Semaphore(options.parallel), self._retry, limit)
        files = asyncio.Semaphore(options.parallel)

        async def run(job: _Job) -> None:
            async with files:
                await self._guard(job, self._upload_one(job, transfer, options))

        await asyncio.gather(*(run(job) for job in jobs if job.ready))
        return [
            results.get(p) or FileResult(p, status="failed", error=_stat_error(p)) for p in paths
        ]

    def _job(self, path: Path) -> _Job | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        if not path.is_file():
            return None
        key = entry_key(self._api.base_url, path)
        return _Job(path, key, stat.st_size, stat.st_mtime_ns, FileResult(path, stat.st_size))

    @staticmethod
    async def _guard(job: _Job, work: Any) -> None:
        try:
            await work
        except (IntakeError, OSError) as error:
            job.result.status, job.result.error = "failed", error

    async def _resume_known(self, job: _Job) -> None:
        entry = self._state.get(job.key)
        if entry is None:
            return
        if not entry.matches(job.size, job.mtime_ns):
            self._state.remove(job.key)  # another file now: its old session is left to cleanup
            return
        try:
            resume = await self._api.resume(entry.upload_session_id)
        except IntakeApiError as error:
            if error.code not in _GONE:
                raise
            self._state.remove(job.key)
            return
        if resume.status == "COMPLETED":
            session = await self._api.session(entry.upload_session_id)
            self._finish(job, session.upload_session_id, {"asset_id": session.asset_id})
            job.result.resumed = True
        elif resume.can_resume:
            job.result.upload_session_id, job.result.resumed = resume.upload_session_id, True
            job.uploaded, job.direct = resume.uploaded_parts, resume.direct
            job.fields = {"upload_type": resume.upload_type, "chunk_size": resume.chunk_size}
            job.fields["part_count"] = resume.part_count
        else:
            self._state.remove(job.key)

    async def _initiate(self, jobs: list[_Job], options: UploadOptions) -> None:
        if len(jobs) == 1:
            await self._guard(jobs[0], self._initiate_one(jobs[0], options))
            return
        for start in range(0, len(jobs), MAX_BATCH_FILES):
            chunk = jobs[start : start + MAX_BATCH_FILES]
            try:
                await self._initiate_batch(chunk, options)
            except IntakeError as error:
                for job in chunk:
                    job.result.status, job.result.error = "failed", error

    async def _initiate_one(self, job: _Job, options: UploadOptions) -> None:
        session = await self._api.initiate(
            job.path.name, job.size, _mime(job.path), options.brand_id
        )
        self._remember(job, session)

    async def _initiate_batch(self, jobs: list[_Job], options: UploadOptions) -> None:
        files = [
            {"file_name": j.path.name, "file_size": j.size, "mime_type": _mime(j.path),
             "client_reference": str(index)}
            for index, j in enumerate(jobs)
        ]  # fmt: skip
        _, outcomes = await self._api.initiate_batch(
            options.brand_id, files, options.batch_reference
        )
        for outcome in outcomes:
            job = jobs[int(outcome.client_reference)]
            if outcome.session is not None:
                self._remember(job, outcome.session)
            else:
                error = IntakeApiError(
                    outcome.error_code or "unknown", 0, outcome.error_detail or ""
                )
                job.result.status, job.result.error = "failed", error

    def _remember(self, job: _Job, session: Session) -> None:
        job.session, job.direct = session, session.direct
        job.result.upload_session_id = session.upload_session_id
        multipart = session.multipart
        job.fields = {
            "upload_type": session.upload_type,
            "chunk_size": multipart.chunk_size if multipart else None,
            "part_count": multipart.part_count if multipart else None,
        }
        entry = StateEntry(session.upload_session_id, str(job.path.resolve()), job.size,
                           job.mtime_ns, **job.fields)  # fmt: skip
        self._state.put(job.key, entry)

    async def _upload_one(self, job: _Job, transfer: Transfer, options: UploadOptions) -> None:
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
        self._finish(job, session_id, answer.get("asset"))
        tracker.phase("completed")

    async def _send(
        self, job: _Job, session_id: str, tracker: FileTracker, transfer: Transfer, parallel: int
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
        sender = MultipartSender(
            transfer, self._signer, session_id, job.path, tracker=tracker,
            on_part_done=lambda number, etag: self._state.record_part(job.key, number, etag),
        )  # fmt: skip
        tracker.phase("uploading")
        stats = await sender.send(todo, parallel)
        etags |= stats.etags
        skipped = len(parts) - len(todo)
        self._count(job, stats, skipped=skipped, total=len(parts))
        return [{"part_number": n, "etag": etags[n]} for n in sorted(etags)]

    async def _fresh_direct(self, session_id: str) -> DirectUpload:
        resume = await self._api.resume(session_id)
        if resume.direct is None:
            raise IntakeApiError("invalid_session_state", 409, f"session is {resume.status}")
        return resume.direct

    async def _complete(
        self, job: _Job, session_id: str, parts: list[dict[str, Any]] | None, title: str | None
    ) -> dict[str, Any]:
        try:
            return await self._api.complete(session_id, parts, title)
        except IntakeApiError as error:
            if error.code in _DEAD:
                self._state.remove(job.key)
            raise

    def _check_unchanged(self, job: _Job) -> None:
        stat = job.path.stat()
        if (stat.st_size, stat.st_mtime_ns) != (job.size, job.mtime_ns):
            raise FileChangedError(f"{job.path} changed while it was uploading")

    def _finish(self, job: _Job, session_id: str, asset: dict[str, Any] | None) -> None:
        self._state.remove(job.key)
        job.result.status, job.result.asset = "completed", asset
        job.result.upload_session_id = session_id

    @staticmethod
    def _count(job: _Job, stats: TransferStats, *, skipped: int, total: int) -> None:
        result = job.result
        result.parts_sent, result.parts_skipped, result.parts_total = (
            stats.parts_sent,
            skipped,
            total,
        )
        result.resigned, result.retries = stats.resigned, stats.retries


def _mime(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _stat_error(path: Path) -> OSError:
    if path.is_dir():
        return IsADirectoryError("is a directory")
    return FileNotFoundError("no such file")
