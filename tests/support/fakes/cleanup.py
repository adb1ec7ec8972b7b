"""Cleanup's fakes: the session index, pruning and the job runs."""

import contextlib
import copy
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from intake_cleanup.domain import IndexedSession, Job, RunStatus
from intake_cleanup.ports import Cursor, RunEvents
from intake_contracts.commands import (
    JobRunView,
)
from intake_contracts.envelope import Principal
from intake_contracts.events import UploadLifecycleEvent
from intake_contracts.sessions import (
    UploadStatus,
)
from tests.support.fakes.initiation import LIVE
from tests.support.fakes.runtime import FakeOutbox

_RANK = {UploadStatus.INITIATING: 0, UploadStatus.UPLOADING: 1}


def _rank(status: UploadStatus) -> int:
    return _RANK.get(status, 2)


@dataclass
class _IndexRow:
    session: IndexedSession  # asset_created/asset_promoted are read from `assets`
    updated_at: datetime


class FakeIndex:
    """Cleanup's IndexRepository over dicts, with the SQL's rules: statuses only go forward,
    keyset pages in (column, id) order, promotion kept once seen."""

    def __init__(self) -> None:
        self.rows: dict[UUID, _IndexRow] = {}
        self.assets: dict[UUID, tuple[UUID, str, bool]] = {}
        self.seen: set[UUID] = set()

    def _view(self, row: _IndexRow) -> IndexedSession:
        asset = self.assets.get(row.session.id)
        return dataclasses.replace(
            row.session,
            asset_created=asset is not None,
            asset_promoted=asset is not None and asset[2],
        )

    def add(self, session: IndexedSession) -> None:
        """Test set-up: a session as the index would hold it after its events."""
        self.rows[session.id] = _IndexRow(session, session.last_event_at)

    def _page(
        self,
        keep: Callable[[IndexedSession], bool],
        column: Callable[[IndexedSession], datetime],
        page: tuple[int, str | None, Cursor],
    ) -> list[IndexedSession]:
        limit, tenant_id, after = page
        found = [
            view
            for view in map(self._view, self.rows.values())
            if keep(view)
            and (tenant_id is None or view.tenant_id == tenant_id)
            and (after is None or (column(view), view.id) > after)
        ]
        return sorted(found, key=lambda view: (column(view), view.id))[:limit]

    async def idle_sessions(
        self, idle_before: datetime, limit: int, tenant_id: str | None, after: Cursor = None
    ) -> list[IndexedSession]:
        return self._page(
            lambda s: s.status == UploadStatus.UPLOADING and s.active_since < idle_before,
            lambda s: s.active_since,
            (limit, tenant_id, after),
        )

    async def expired_sessions(
        self, now: datetime, limit: int, tenant_id: str | None, after: Cursor = None
    ) -> list[IndexedSession]:
        return self._page(
            lambda s: s.status in LIVE and s.expires_at <= now,
            lambda s: s.expires_at,
            (limit, tenant_id, after),
        )

    async def unreconciled_sessions(
        self, completed_before: datetime, limit: int, tenant_id: str | None, after: Cursor = None
    ) -> list[IndexedSession]:
        return self._page(
            lambda s: (
                s.status == UploadStatus.COMPLETED
                and s.last_event_at <= completed_before
                and not s.asset_promoted
            ),
            lambda s: s.last_event_at,
            (limit, tenant_id, after),
        )

    async def advance_statuses(self, statuses: Sequence[tuple[UUID, UploadStatus]]) -> None:
        for session_id, status in statuses:
            row = self.rows.get(session_id)
            if row is not None and _rank(status) > _rank(row.session.status):
                row.session = dataclasses.replace(row.session, status=status)

    async def raise_active_since_many(
        self, session_ids: Sequence[UUID], active_since: datetime
    ) -> None:
        for session_id in session_ids:
            row = self.rows.get(session_id)
            if row is not None:
                since = max(row.session.active_since, active_since)
                row.session = dataclasses.replace(row.session, active_since=since)

    async def sessions_by_ids(self, ids: Sequence[UUID]) -> dict[UUID, IndexedSession]:
        return {i: self._view(self.rows[i]) for i in ids if i in self.rows}

    async def claim_events(self, message_ids: Sequence[UUID]) -> set[UUID]:
        fresh = set(message_ids) - self.seen
        self.seen |= fresh
        return fresh

    async def upsert_sessions(
        self, events: Sequence[tuple[UploadLifecycleEvent, datetime]]
    ) -> None:
        for event, occurred_at in events:
            row = self.rows.get(event.upload_session_id)
            if row is None:
                self.add(
                    IndexedSession(
                        id=event.upload_session_id,
                        tenant_id=event.tenant_id,
                        status=event.status,
                        bucket=event.bucket,
                        temp_key=event.temp_key,
                        multipart_upload_id=event.multipart_upload_id,
                        expires_at=event.expires_at,
                        last_event_at=occurred_at,
                        active_since=occurred_at,
                        asset_id=event.asset_id,
                        asset_created=False,
                        asset_promoted=False,
                    )
                )
                continue
            old = row.session
            newer = _rank(event.status) > _rank(old.status)
            same = _rank(event.status) == _rank(old.status) and occurred_at >= old.last_event_at
            if newer or same:
                row.session = dataclasses.replace(
                    old,
                    status=event.status,
                    multipart_upload_id=event.multipart_upload_id or old.multipart_upload_id,
                    expires_at=event.expires_at,
                    last_event_at=max(old.last_event_at, occurred_at),
                    active_since=max(old.active_since, occurred_at),
                    asset_id=event.asset_id or old.asset_id,
                )

    async def record_assets(self, assets: Sequence[tuple[UUID, UUID, str, bool]]) -> None:
        for session_id, asset_id, tenant_id, promoted in assets:
            before = self.assets.get(session_id)
            kept = promoted or (before is not None and before[2])
            self.assets[session_id] = (asset_id, tenant_id, kept)


class FakeIndexDatabase:
    """Cleanup's IndexDatabase: a transaction that raises leaves the index as it was."""

    def __init__(self) -> None:
        self.index = FakeIndex()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeIndex]:
        saved = copy.deepcopy((self.index.rows, self.index.assets, self.index.seen))
        try:
            yield self.index
        except BaseException:
            self.index.rows, self.index.assets, self.index.seen = saved
            raise


class FakePrune:
    """Cleanup's PruneRepository: rows by the instant they became prunable, per table."""

    def __init__(self) -> None:
        self.aged: dict[str, list[datetime]] = {"index": [], "seen_events": [], "job_runs": []}
        self.unclaimed: dict[str, datetime] = {}
        self.batches: list[tuple[str, int]] = []

    def _prune(self, table: str, older_than: datetime, limit: int) -> int:
        doomed = sorted(at for at in self.aged[table] if at < older_than)[:limit]
        for at in doomed:
            self.aged[table].remove(at)
        self.batches.append((table, len(doomed)))
        return len(doomed)

    async def prune_index(self, older_than: datetime, limit: int) -> int:
        return self._prune("index", older_than, limit)

    async def prune_seen_events(self, older_than: datetime, limit: int) -> int:
        return self._prune("seen_events", older_than, limit)

    async def prune_job_runs(self, older_than: datetime, limit: int) -> int:
        return self._prune("job_runs", older_than, limit)

    async def unclaimed_since(self, unclaimed: Sequence[str], now: datetime) -> dict[str, datetime]:
        self.unclaimed = {topic: self.unclaimed.get(topic, now) for topic in unclaimed}
        return dict(self.unclaimed)

    async def forget(self, deleted: Sequence[str]) -> None:
        for topic in deleted:
            self.unclaimed.pop(topic, None)


@dataclass
class JobRun:
    """A job_runs row as the fake keeps it."""

    job: Job
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None = None
    stats: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class FakeJobRuns:
    """Cleanup's JobRuns: the lock a set of held jobs (`held_elsewhere` are another replica's),
    the rows a dict, the events a FakeOutbox. `down` makes every call fail as a lost
    database would (OSError)."""

    def __init__(self) -> None:
        self.held: set[Job] = set()
        self.held_elsewhere: set[Job] = set()
        self.runs: dict[UUID, JobRun] = {}
        self.outbox = FakeOutbox()
        self.down = False

    def _call(self) -> None:
        if self.down:
            raise OSError("connection refused")

    @contextlib.asynccontextmanager
    async def lock(self, job: Job) -> AsyncIterator[bool]:
        self._call()
        locked = job not in self.held and job not in self.held_elsewhere
        if locked:
            self.held.add(job)
        try:
            yield locked
        finally:
            if locked:
                self.held.discard(job)

    async def start(self, run_id: UUID, job: Job, started_at: datetime, status: RunStatus) -> None:
        self._call()
        finished = started_at if status == RunStatus.SKIPPED else None
        self.runs[run_id] = JobRun(job, status, started_at, finished)

    async def finish(self, run: JobRunView, events: RunEvents, principal: Principal) -> None:
        self._call()
        assert run.run_id is not None
        await self.outbox.add_many(events, correlation_id=str(run.run_id), principal=principal)
        row = self.runs[run.run_id]
        row.status = RunStatus(run.status)
        row.finished_at = run.finished_at
        row.stats, row.errors = dict(run.stats), list(run.errors)
