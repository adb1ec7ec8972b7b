"""Jobs over S3: orphaned temp objects and orphaned multipart uploads, in every bucket."""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from intake_cleanup import domain
from intake_cleanup.domain import IndexedSession
from intake_cleanup.ports import CleanupStorage, IndexRepository
from intake_cleanup.report import RunReport, bounded
from intake_cleanup.settings import CleanupSettings
from intake_contracts.errors import TransientError
from intake_contracts.events import ResidueRemoved
from intake_contracts.keys import TEMP_PREFIX, session_id_of_temp_key
from intake_runtime.storage.s3 import (
    MultipartUpload,
    StorageError,
    StoredObject,
    UploadNotFoundError,
)

ABORT = "abort_multipart"
DELETE = "delete_object"

Sessions = dict[UUID, IndexedSession]
# What an orphan job removes: a temp object, or a multipart upload.
Residue = TypeVar("Residue", StoredObject, MultipartUpload)


class StorageJobs:
    def __init__(
        self, settings: CleanupSettings, index: IndexRepository, store: CleanupStorage
    ) -> None:
        self._settings = settings
        self._index = index
        self._store = store

    async def buckets(self) -> list[str]:
        """The shared bucket, or every `{AWS_BUCKET}-{tenant}` bucket under per_tenant."""
        base = self._settings.aws_bucket
        if self._settings.storage_provision_strategy == "shared":
            return [base]
        return await self._store.list_buckets(prefix=f"{base}-")

    async def orphaned_temp_objects(self, report: RunReport, now: datetime) -> None:
        older_than = domain.cutoff(now, self._settings.orphan_temp_after_s)
        await self._remove_orphans(
            report, older_than, self._store.iter_objects, lambda o: o.last_modified, self._delete
        )

    async def orphaned_multipart(self, report: RunReport, now: datetime) -> None:
        older_than = domain.cutoff(now, self._settings.orphan_multipart_after_s)
        await self._remove_orphans(
            report,
            older_than,
            self._store.iter_multipart_uploads,
            lambda u: u.initiated,
            self._abort,
        )

    async def _remove_orphans(
        self,
        report: RunReport,
        older_than: datetime,
        listing: Callable[[str, str], AsyncIterator[list[Residue]]],
        created: Callable[[Residue], datetime],
        remove: Callable[[RunReport, str, Residue, str, Sessions], Awaitable[None]],
    ) -> None:
        """In every bucket, remove what `listing` finds under the temp prefix that no live
        session still needs (`created`: when an item was made), `s3_concurrency` at a time."""
        for bucket in await self.buckets():
            found = [item async for page in listing(bucket, TEMP_PREFIX) for item in page]
            report.count("listed", len(found))
            # Looked up after the whole listing: the index has had that long to catch up with
            # sessions created just before the run, so none of them looks unknown.
            sessions = await self._sessions_of([item.key for item in found])
            doomed = [
                (item, reason)
                for item in found
                if (reason := self._reason(item.key, created(item), sessions, older_than))
            ]
            # The loop's bucket and sessions are safe to close over: bounded returns only once
            # every removal of this bucket has run.
            await bounded(
                self._settings.s3_concurrency,
                doomed,
                lambda entry: remove(report, bucket, *entry, sessions),  # noqa: B023
            )

    async def _sessions_of(self, keys: Sequence[str]) -> Sessions:
        ids = {sid for key in keys if (sid := session_id_of_temp_key(key)) is not None}
        return await self._index.sessions_by_ids(sorted(ids))

    @staticmethod
    def _reason(
        key: str,
        created: datetime,
        sessions: Sessions,
        older_than: datetime,
    ) -> str | None:
        session_id = session_id_of_temp_key(key)
        session = sessions.get(session_id) if session_id is not None else None
        return domain.residue_reason(key, created, session, older_than)

    async def _delete(
        self,
        report: RunReport,
        bucket: str,
        item: StoredObject,
        reason: str,
        sessions: Sessions,
    ) -> None:
        try:
            await self._store.delete(bucket, item.key)
        except (TransientError, StorageError) as error:
            report.error(f"delete s3://{bucket}/{item.key}", error)
            return
        report.count("deleted")
        report.residue.append(
            _residue(report.job, DELETE, bucket, item.key, None, reason, sessions)
        )

    async def _abort(
        self,
        report: RunReport,
        bucket: str,
        item: MultipartUpload,
        reason: str,
        sessions: Sessions,
    ) -> None:
        try:
            await self._store.abort_multipart(bucket, item.key, item.upload_id)
            remaining = await self._remaining_parts(bucket, item)
        except (TransientError, StorageError) as error:
            report.error(f"abort s3://{bucket}/{item.key} upload {item.upload_id}", error)
            return
        if remaining is not None:
            report.error(
                f"abort s3://{bucket}/{item.key} upload {item.upload_id}",
                RuntimeError(f"upload still listed with {remaining} parts after abort"),
            )
            return
        report.count("aborted")
        report.residue.append(
            _residue(report.job, ABORT, bucket, item.key, item.upload_id, reason, sessions)
        )

    async def _remaining_parts(self, bucket: str, item: MultipartUpload) -> int | None:
        """None once S3 answers NoSuchUpload: the abort is confirmed and no part remains."""
        try:
            parts = await self._store.list_parts(bucket, item.key, item.upload_id)
        except UploadNotFoundError:
            return None
        return len(parts)


def _residue(  # noqa: PLR0917 - one value per event field
    job: str,
    action: str,
    bucket: str,
    key: str,
    upload_id: str | None,
    reason: str,
    sessions: Sessions,
) -> ResidueRemoved:
    session_id = session_id_of_temp_key(key)
    session = sessions.get(session_id) if session_id is not None else None
    return ResidueRemoved(
        job=job,
        action=action,
        bucket=bucket,
        key=key,
        upload_id=upload_id,
        upload_session_id=session_id,
        tenant_id=session.tenant_id if session else None,
        reason=reason,
    )
