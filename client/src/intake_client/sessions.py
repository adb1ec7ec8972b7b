"""The first half of an upload: each file's session, found again (resume) or started
(initiation, one call or in batches). Only the gateway is called here, never S3, and one call
after another, blocking: the `intake` command runs this before asyncio and the transfer
machinery (httpx) are imported, see cli.py; UploadManager runs it on a thread.
"""

import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from intake_client.api import MAX_BATCH_FILES, MAX_PARTS_PER_SIGNING, IntakeApi
from intake_client.digests import ALGORITHMS, SHA256, checksum_of
from intake_client.errors import IntakeApiError, IntakeError
from intake_client.results import FileResult, UploadOptions
from intake_client.state import StateEntry, StateFile, entry_key

if TYPE_CHECKING:
    from intake_client.models import DirectUpload, PartUrl, Session, UploadedPart

# Below this size the gateway chooses a direct upload (one PUT whose URL signs the digest).
DIRECT_LIMIT = 5 * 1024 * 1024
# Parts presigned (and so hashed) before the transfer starts, with checksums on.
_PRESIGNED_WITH_CHECKSUMS = 4
# Answers after which a session can never take these bytes: forget it and start over.
_GONE = frozenset({"upload_session_not_found", "upload_session_expired"})


class Job:
    """One file on its way. Plain classes here, no dataclasses: see results.py."""

    def __init__(self, path: Path, key: str, size: int, mtime_ns: int, result: FileResult) -> None:
        self.path, self.key, self.size, self.mtime_ns = path, key, size, mtime_ns
        self.result = result
        self.session: Session | None = None
        self.uploaded: tuple[UploadedPart, ...] = ()
        self.direct: DirectUpload | None = None
        self.fields: dict[str, Any] = {}
        self.signed: list[PartUrl] = []  # part URLs signed ahead of the transfer (presign)
        self.part_checksums: dict[int, str] = {}  # of the parts signed ahead

    @property
    def needs_session(self) -> bool:
        return self.result.upload_session_id is None and self.result.status == "pending"

    @property
    def ready(self) -> bool:
        return self.result.upload_session_id is not None and self.result.status == "pending"


class Prepared(NamedTuple):
    """Every file asked for (in order, once) and the jobs of those that exist."""

    paths: list[Path]
    jobs: list[Job]


class Sessions:
    """Finds or starts the session of each file and remembers it in the state file."""

    def __init__(self, api: IntakeApi, state: StateFile) -> None:
        self._api, self._state = api, state

    def prepare(self, paths: list[Path], options: UploadOptions) -> Prepared:
        """Blocks until every file has its session or its failure (gateway calls only)."""
        paths = list(dict.fromkeys(paths))  # the same file twice would race for one session
        jobs = [job for job in map(self._job, paths) if job is not None]
        for job in jobs:
            with guarded(job):
                self._resume_known(job)
        fresh = [job for job in jobs if job.needs_session]
        self._initiate(fresh, options)
        return Prepared(paths, jobs)

    def presign(self, prepared: Prepared, files: int) -> None:
        """Signs the first parts of the first `files` multipart jobs now, so that their bytes
        can move as soon as the transfer starts. The `intake` command calls this while the
        transfer machinery loads on another thread; a refusal here is left for the transfer
        itself to meet (it signs what it lacks), so nothing fails that would not anyway.
        """
        from intake_client.plan import parts_to_send, plan_parts  # noqa: PLC0415 - see top

        ready = [job for job in prepared.jobs if job.ready]
        for job in [j for j in ready if j.fields.get("upload_type") == "multipart"][:files]:
            try:
                parts = plan_parts(job.size, job.fields["chunk_size"], job.fields["part_count"])
                todo = parts_to_send(parts, job.uploaded)[:MAX_PARTS_PER_SIGNING]
                checksums = None
                algorithm = job.fields.get("checksum_algorithm")
                if algorithm in ALGORITHMS:
                    # Hashed now, so only the first few: the transfer hashes the rest ahead.
                    todo = todo[:_PRESIGNED_WITH_CHECKSUMS]
                    checksums = [checksum_of(job.path, p.offset, p.size, algorithm) for p in todo]
                    job.part_checksums = {p.number: c for p, c in zip(todo, checksums, strict=True)}
                if todo:
                    session_id = job.result.upload_session_id or ""
                    numbers = [part.number for part in todo]
                    job.signed = self._api.sign_parts(session_id, numbers, checksums).now()
            except (IntakeError, OSError):
                job.signed = []

    def finish(self, job: Job, session_id: str, asset: dict[str, Any] | None) -> None:
        self._state.remove(job.key)
        job.result.status, job.result.asset = "completed", asset
        job.result.upload_session_id = session_id

    def forget(self, job: Job) -> None:
        self._state.remove(job.key)

    def record_part(self, job: Job, number: int, etag: str) -> None:
        self._state.record_part(job.key, number, etag)

    def _job(self, path: Path) -> Job | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        if not path.is_file():
            return None
        key = entry_key(self._api.base_url, path)
        return Job(path, key, stat.st_size, stat.st_mtime_ns, FileResult(path, stat.st_size))

    def _resume_known(self, job: Job) -> None:
        entry = self._state.get(job.key)
        if entry is None:
            return
        if not entry.matches(job.size, job.mtime_ns):
            self._state.remove(job.key)  # another file now: its old session is left to cleanup
            return
        try:
            resume = self._api.resume(entry.upload_session_id).now()
        except IntakeApiError as error:
            if error.code not in _GONE:
                raise
            self._state.remove(job.key)
            return
        if resume.status == "COMPLETED":
            session = self._api.session(entry.upload_session_id).now()
            self.finish(job, session.upload_session_id, {"asset_id": session.asset_id})
            job.result.resumed = True
        elif resume.can_resume:
            job.result.upload_session_id, job.result.resumed = resume.upload_session_id, True
            job.uploaded, job.direct = resume.uploaded_parts, resume.direct
            job.fields = {"upload_type": resume.upload_type, "chunk_size": resume.chunk_size}
            job.fields["part_count"] = resume.part_count
            job.fields["checksum_algorithm"] = entry.checksum_algorithm
        else:
            self._state.remove(job.key)

    def _initiate(self, jobs: list[Job], options: UploadOptions) -> None:
        if len(jobs) == 1:
            with guarded(jobs[0]):
                self._initiate_one(jobs[0], options)
            return
        for start in range(0, len(jobs), MAX_BATCH_FILES):
            chunk = jobs[start : start + MAX_BATCH_FILES]
            try:
                self._initiate_batch(chunk, options)
            except IntakeError as error:
                for job in chunk:
                    job.result.status, job.result.error = "failed", error

    def _initiate_one(self, job: Job, options: UploadOptions) -> None:
        integrity = _integrity(job, options)
        if "checksum" in integrity and options.checksum_algorithm == SHA256:
            # The single initiate takes the hex spelling as well.
            integrity["checksum_sha256"] = _hex(integrity.pop("checksum"))
        call = self._api.initiate(
            job.path.name, job.size, _mime(job.path), options.brand_id, **integrity
        )
        self._remember(job, call.now())

    def _initiate_batch(self, jobs: list[Job], options: UploadOptions) -> None:
        files = [
            {"file_name": j.path.name, "file_size": j.size, "mime_type": _mime(j.path),
             "client_reference": str(index), **_integrity(j, options)}
            for index, j in enumerate(jobs)
        ]  # fmt: skip
        _, outcomes = self._api.initiate_batch(
            options.brand_id, files, options.batch_reference
        ).now()
        for outcome in outcomes:
            job = jobs[int(outcome.client_reference)]
            if outcome.session is not None:
                self._remember(job, outcome.session)
            else:
                error = IntakeApiError(
                    outcome.error_code or "unknown", 0, outcome.error_detail or ""
                )
                job.result.status, job.result.error = "failed", error

    def _remember(self, job: Job, session: "Session") -> None:
        job.session, job.direct = session, session.direct
        job.result.upload_session_id = session.upload_session_id
        multipart = session.multipart
        job.fields = {
            "upload_type": session.upload_type,
            "chunk_size": multipart.chunk_size if multipart else None,
            "part_count": multipart.part_count if multipart else None,
            "checksum_algorithm": session.raw.get("checksum_algorithm"),
        }
        entry = StateEntry(session.upload_session_id, str(job.path.resolve()), job.size,
                           job.mtime_ns, **job.fields)  # fmt: skip
        self._state.put(job.key, entry)


@contextmanager
def guarded(job: Job) -> Iterator[None]:
    """Around one file's step: its failure goes into its result and never stops the others."""
    try:
        yield
    except (IntakeError, OSError) as error:
        job.result.status, job.result.error = "failed", error


def _integrity(job: Job, options: UploadOptions) -> dict[str, str]:
    """What initiate declares: the algorithm, and for a direct upload (one PUT) the file's
    checksum, which its URL then signs."""
    algorithm = options.checksum_algorithm
    if algorithm is None:
        return {}
    if job.size >= DIRECT_LIMIT:
        return {"checksum_algorithm": algorithm}
    return {
        "checksum_algorithm": algorithm,
        "checksum": checksum_of(job.path, 0, job.size, algorithm),
    }


def _hex(checksum: str) -> str:
    import base64  # noqa: PLC0415 - see the top

    return base64.b64decode(checksum).hex()


def _mime(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
