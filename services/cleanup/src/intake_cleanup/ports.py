"""What the cleanup jobs need from the world, as small ports.

Each has a real adapter (repo.py and prune_repo.py: Postgres, the job runs included; the
typed S3 adapter intake_runtime.storage.s3.ObjectStore; outbound.py: initiation and completion
over Kafka; intake_runtime.messaging.reply_topics: the Kafka admin) and an in-memory fake
(tests/support/fakes/); the contract suites (tests/support/contracts/) run against both.
"""

from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol, TypeAlias
from uuid import UUID

from pydantic import BaseModel

from intake_cleanup.domain import IndexedSession, Job, RunStatus
from intake_contracts.commands import CompletionResult, FailedSessions, JobRunView, PruneResult
from intake_contracts.envelope import Principal
from intake_contracts.events import EventType, UploadLifecycleEvent
from intake_contracts.sessions import UploadStatus
from intake_runtime.storage.s3 import DeleteFailure, MultipartUpload, StoredObject, StoredPart

# Keyset paging: the (sort column, session id) of a page's last row; None for the first page.
Cursor: TypeAlias = "tuple[datetime, UUID] | None"


class IndexRepository(Protocol):
    """Cleanup's index of sessions and the assets seen for them."""

    async def idle_sessions(
        self, idle_before: datetime, limit: int, tenant_id: str | None, after: Cursor = None
    ) -> list[IndexedSession]:
        """UPLOADING and idle since before `idle_before`, by (active_since, id) after `after`."""
        ...

    async def expired_sessions(
        self, now: datetime, limit: int, tenant_id: str | None, after: Cursor = None
    ) -> list[IndexedSession]:
        """Live and past expiry, by (expires_at, id) after `after`."""
        ...

    async def unreconciled_sessions(
        self, completed_before: datetime, limit: int, tenant_id: str | None, after: Cursor = None
    ) -> list[IndexedSession]:
        """COMPLETED without a promoted asset, by (last_event_at, id) after `after`."""
        ...

    async def advance_statuses(self, statuses: Sequence[tuple[UUID, UploadStatus]]) -> None:
        """Forward only: a status never goes back."""
        ...

    async def raise_active_since_many(
        self, session_ids: Sequence[UUID], active_since: datetime
    ) -> None:
        """Never lowers it."""
        ...

    async def sessions_by_ids(self, ids: Sequence[UUID]) -> dict[UUID, IndexedSession]: ...

    async def claim_events(self, message_ids: Sequence[UUID]) -> set[UUID]:
        """The ids not applied before: a redelivered event changes nothing."""
        ...

    async def upsert_sessions(
        self, events: Sequence[tuple[UploadLifecycleEvent, datetime]]
    ) -> None:
        """In the order given; a later status wins, an equal one only with a newer event."""
        ...

    async def record_assets(self, assets: Sequence[tuple[UUID, UUID, str, bool]]) -> None:
        """(session, asset, tenant, promoted) each; promoted once is promoted for good."""
        ...


class IndexDatabase(Protocol):
    @property
    def index(self) -> IndexRepository:
        """Each call a statement of its own, committed at once."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[IndexRepository]:
        """Everything done through it commits together, or not at all when it raises."""
        ...


class PruneRepository(Protocol):
    """Cleanup's own rows by age, and the reply topics it saw unclaimed. Each prune is one
    short transaction of at most `limit` rows; the count is how many went."""

    async def prune_index(self, older_than: datetime, limit: int) -> int:
        """Terminal sessions (a COMPLETED one only once its Asset was seen promoted)."""
        ...

    async def prune_seen_events(self, older_than: datetime, limit: int) -> int: ...

    async def prune_job_runs(self, older_than: datetime, limit: int) -> int:
        """Finished runs only."""
        ...

    async def unclaimed_since(self, unclaimed: Sequence[str], now: datetime) -> dict[str, datetime]:
        """Since when each topic has been seen unclaimed (`now` for a new one); the records of
        topics not in `unclaimed` are dropped."""
        ...

    async def forget(self, deleted: Sequence[str]) -> None: ...


class CleanupStorage(Protocol):
    """The part of the typed S3 adapter (ObjectStore) the jobs use. Plain `def`s returning
    awaitables: the adapter's methods are wrapped by its error translation."""

    def list_buckets(self, prefix: str = "") -> Awaitable[list[str]]: ...

    def iter_objects(self, bucket: str, prefix: str) -> AsyncIterator[list[StoredObject]]: ...

    def iter_multipart_uploads(
        self, bucket: str, prefix: str
    ) -> AsyncIterator[list[MultipartUpload]]: ...

    def delete(self, bucket: str, key: str) -> Awaitable[None]:
        """Gone afterwards; deleting what is not there is no error."""
        ...

    def delete_many(self, bucket: str, keys: Sequence[str]) -> Awaitable[list[DeleteFailure]]:
        """Each key gone afterwards (one that is not there is no error), in requests of up to
        1,000 keys; the keys left, each with why."""
        ...

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> Awaitable[bool]:
        """True when aborted now, False when S3 no longer knew the upload."""
        ...

    def list_parts(self, bucket: str, key: str, upload_id: str) -> Awaitable[list[StoredPart]]:
        """Raises UploadNotFoundError once the upload is gone."""
        ...


class OutboundCommands(Protocol):
    """Initiation and completion, the owners of what cleanup asks to change (outbound.py).

    Every call raises a service's refusal as the DomainError it answered, a service that answered
    it was down or slow as a TransientError, no reply before the deadline as a
    ReplyTimeoutError (each a failure of one item: the run goes on), and a broker that did not
    take the command as a BrokerUnavailableError (every command would fail: the run stops).
    """

    async def fail_sessions(
        self,
        sessions: Sequence[IndexedSession],
        reason: str,
        *,
        idle_before: datetime | None = None,
        expired_at: datetime | None = None,
    ) -> FailedSessions: ...

    async def complete(self, session: IndexedSession) -> CompletionResult: ...

    async def prune_sessions(self, older_than: datetime, limit: int) -> PruneResult: ...

    async def prune_completions(self, older_than: datetime, limit: int) -> PruneResult: ...

    async def promoting_keys(self, tenant_id: str, keys: list[str]) -> set[str]: ...


class ReplyTopics(Protocol):
    """The reply topics of this namespace on the broker."""

    def prefix(self) -> str: ...

    async def liveness(self) -> dict[str, bool]:
        """Every reply topic, and whether a consumer holds it now."""
        ...

    async def delete(self, doomed: list[str]) -> dict[str, str | None]:
        """Per topic None when deleted (or gone already), else the error."""
        ...


# The events of a finished run: (type, event, key, tenant), as EventOutbox.add_many takes them.
RunEvents: TypeAlias = "list[tuple[EventType, BaseModel, str, str | None]]"


class JobRuns(Protocol):
    """One replica runs a job at a time, and every run leaves a record (job_runs)."""

    def lock(self, job: Job) -> AbstractAsyncContextManager[bool]:
        """Held for the whole run: True when this replica has the job, False when another
        holds it. Released on exit, and with the process if it dies."""
        ...

    async def start(self, run_id: UUID, job: Job, started_at: datetime, status: RunStatus) -> None:
        """The run's record: RUNNING, or SKIPPED (which is finished when it starts)."""
        ...

    async def finish(self, run: JobRunView, events: RunEvents, principal: Principal) -> None:
        """The run's outcome and its events commit together, or neither does."""
        ...
