"""Jobs over sessions: abandoned detection, expiry and completion reconciliation.

Each job drains its backlog: page after page of candidates (in key order, so every candidate is
seen once) until none is left. Abandoned and expired sessions are failed in bulk, one
FailSessions command per page.
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from uuid import UUID

from intake_cleanup import domain
from intake_cleanup.domain import IndexedSession
from intake_cleanup.ports import CleanupStorage, Cursor, IndexRepository, OutboundCommands
from intake_cleanup.report import RunReport, bounded
from intake_cleanup.settings import CleanupSettings
from intake_contracts.commands import MAX_SESSIONS_PER_FAIL, FailedSessions
from intake_contracts.errors import CodedError, TransientError
from intake_contracts.sessions import UploadStatus
from intake_runtime.messaging.requests import ReplyTimeoutError
from intake_runtime.storage.s3 import StorageError

log = logging.getLogger(__name__)

ABANDONED = "abandoned"
EXPIRED = "expired"

# The index's candidate queries: (cutoff, limit, tenant, after) -> the next page in key order.
IndexQuery = Callable[[datetime, int, str | None, Cursor], Awaitable[list[IndexedSession]]]
SortKey = Callable[[IndexedSession], datetime]


class SessionJobs:
    """Each job asks initiation or completion to act; neither trusts cleanup's index blindly."""

    def __init__(
        self,
        settings: CleanupSettings,
        index: IndexRepository,
        outbound: OutboundCommands,
        store: CleanupStorage,
    ) -> None:
        self._settings = settings
        self._index = index
        self._outbound = outbound
        self._store = store

    async def detect_abandoned(self, report: RunReport, now: datetime, tenant: str | None) -> None:
        idle_before = domain.cutoff(now, self._settings.abandoned_after_s)
        pages = self._pages(
            report, self._index.idle_sessions, idle_before, tenant, lambda s: s.active_since
        )
        async for page in pages:
            candidates = [s for s in page if domain.is_abandoned(s, idle_before)]
            await self._fail(report, candidates, ABANDONED, idle_before=idle_before)

    async def expire_sessions(self, report: RunReport, now: datetime, tenant: str | None) -> None:
        pages = self._pages(
            report, self._index.expired_sessions, now, tenant, lambda s: s.expires_at
        )
        async for page in pages:
            candidates = [s for s in page if domain.is_expired(s, now)]
            await self._fail(report, candidates, EXPIRED, expired_at=now)

    async def reconcile(self, report: RunReport, now: datetime, tenant: str | None) -> None:
        before = domain.cutoff(now, self._settings.reconcile_after_s)
        pages = self._pages(
            report, self._index.unreconciled_sessions, before, tenant, lambda s: s.last_event_at
        )
        async for page in pages:
            candidates = [s for s in page if domain.needs_reconcile(s, before)]
            await bounded(
                self._settings.command_concurrency,
                candidates,
                lambda session: self._complete(report, session),
            )

    async def _pages(
        self,
        report: RunReport,
        query: IndexQuery,
        cutoff: datetime,
        tenant: str | None,
        sort_key: SortKey,
    ) -> AsyncIterator[list[IndexedSession]]:
        """Every candidate of one of the index's queries once, a page at a time, until a page
        comes back short."""
        limit = self._settings.batch_limit
        after: Cursor = None
        while True:
            page = await query(cutoff, limit, tenant, after)
            if page:
                report.count("batches")
                report.count("candidates", len(page))
                yield page
            if len(page) < limit:
                return
            after = (sort_key(page[-1]), page[-1].id)

    async def _fail(
        self,
        report: RunReport,
        sessions: Sequence[IndexedSession],
        reason: str,
        *,
        idle_before: datetime | None = None,
        expired_at: datetime | None = None,
    ) -> None:
        # BrokerUnavailableError escapes on purpose: with Kafka gone every command would fail
        # the same way, so the run stops and the next one retries.
        for chunk in domain.chunks(sessions, MAX_SESSIONS_PER_FAIL):
            try:
                result = await self._outbound.fail_sessions(
                    chunk, reason, idle_before=idle_before, expired_at=expired_at
                )
            except (CodedError, ReplyTimeoutError) as error:
                report.error(f"fail_sessions of {len(chunk)} ({reason})", error)
                continue
            await self._record(report, chunk, result, idle_before)
            log.info("sessions failed", extra={"reason": reason, "count": len(result.moved)})

    async def _record(
        self,
        report: RunReport,
        chunk: Sequence[IndexedSession],
        result: FailedSessions,
        idle_before: datetime | None,
    ) -> None:
        """The index follows initiation's answer; the moved sessions' storage goes."""
        by_id = {session.id: session for session in chunk}
        moved = [by_id[sid] for sid in result.moved if sid in by_id]
        outcome = domain.sort_unchanged(result.unchanged)
        report.count("failed", len(moved))
        report.count("still_active", len(outcome.live))
        report.count("already_terminal", len(outcome.terminal))
        report.count("unknown", len(chunk) - len(moved) - len(result.unchanged))
        failed = [(session.id, UploadStatus.FAILED) for session in moved]
        await self._index.advance_statuses(failed + outcome.terminal)
        if idle_before is not None:
            # Initiation saw activity after the cutoff: remember it, so the next run waits.
            await self._index.raise_active_since_many(outcome.live, idle_before)
        await self._remove_residue(report, moved)

    async def _remove_residue(self, report: RunReport, sessions: Sequence[IndexedSession]) -> None:
        """Best effort, outside any transaction: multipart uploads aborted one by one (S3 has
        no batch abort), then the temp keys deleted a thousand a request (most were never
        written: one DeleteObject each was most of a bulk failure's time). What stays is found
        by the orphan jobs."""
        left: dict[UUID, str] = {}

        async def abort(session: IndexedSession) -> None:
            assert session.multipart_upload_id is not None  # noqa: S101 - filtered below
            try:
                await self._store.abort_multipart(
                    session.bucket, session.temp_key, session.multipart_upload_id
                )
            except (TransientError, StorageError) as error:
                left[session.id] = str(error)

        multipart = [s for s in sessions if s.multipart_upload_id is not None]
        await bounded(self._settings.s3_concurrency, multipart, abort)
        for bucket, of_bucket in domain.by_bucket(s for s in sessions if s.id not in left):
            by_key = {session.temp_key: session.id for session in of_bucket}
            for failure in await self._store.delete_many(bucket, list(by_key)):
                left[by_key[failure.key]] = f"{failure.code}: {failure.detail}"
        for session_id, error in left.items():
            log.warning(
                "storage residue left for the orphan jobs",
                extra={"upload_session_id": str(session_id), "error": error},
            )
        if left:
            report.count("residue_left", len(left))
        if len(sessions) > len(left):
            report.count("residue_removed", len(sessions) - len(left))

    async def _complete(self, report: RunReport, session: IndexedSession) -> None:
        try:
            result = await self._outbound.complete(session)
        except (CodedError, ReplyTimeoutError) as error:
            report.error(f"complete {session.id}", error)
            return
        asset = result.asset
        # The reply says where the bytes are now; promotion goes on in completion, and its
        # asset.promoted event marks the session done here.
        promoted = asset.promoted_at is not None
        await self._index.record_assets([(session.id, asset.asset_id, session.tenant_id, promoted)])
        report.count("completed" if promoted else "promoting")
