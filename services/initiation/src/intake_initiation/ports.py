"""What the initiation use cases need from the world, as small ports.

Each has a real adapter (repo.py: Postgres; storage.py: S3) and an in-memory fake
(tests/support/fakes/); one contract suite per port (tests/support/contracts/) runs
against both. A `Unit` is one transaction: the repository and the outbox bound to it, so a
command's inbox row, state change and events commit together or not at all.
"""

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol
from uuid import UUID

from intake_contracts.sessions import UploadedPart, UploadStatus
from intake_initiation.domain import Session
from intake_runtime.ports import EventOutbox


class SessionRepository(Protocol):
    """Sessions of one tenant at a time; every change is a compare-and-set."""

    async def insert(self, session: Session) -> Session | None:
        """The stored session (in its status, with its upload id), or None when its
        idempotency key is taken in the tenant."""
        ...

    async def get(self, session_id: UUID, tenant_id: str) -> Session | None: ...

    async def by_idempotency_key(self, tenant_id: str, key: str) -> Session | None: ...

    async def transition(
        self,
        session: Session,
        target: UploadStatus,
        allowed_from: list[UploadStatus],
        now: datetime,
        *,
        multipart_upload_id: str | None = None,
        failure_reason: str | None = None,
        asset_id: UUID | None = None,
        idle_before: datetime | None = None,
        expired_at: datetime | None = None,
    ) -> Session | None:
        """The session after the change, or None when it is no longer in `allowed_from` (or
        was active since `idle_before`, or is not expired at `expired_at`)."""
        ...

    async def touch(self, session_id: UUID, tenant_id: str, now: datetime) -> Session | None:
        """The live session with its activity at `now`; None when it is not live."""
        ...

    async def fail_many(
        self,
        sessions: list[tuple[UUID, str]],
        reason: str,
        now: datetime,
        *,
        idle_before: datetime | None = None,
        expired_at: datetime | None = None,
    ) -> list[tuple[Session, UploadStatus]]:
        """The (session, tenant) rows that were live (and idle since `idle_before`, expired at
        `expired_at`) moved to FAILED in one compare-and-set: (session after, status before)."""
        ...

    async def statuses(self, sessions: list[tuple[UUID, str]]) -> dict[UUID, UploadStatus]:
        """The status of each (session, tenant) row found in its tenant."""
        ...


class Unit(Protocol):
    """One transaction of the use cases."""

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def outbox(self) -> EventOutbox: ...

    def if_discarded(self, undo: Callable[[], Awaitable[None]]) -> None:
        """Undo an effect outside the database (an S3 call) if the runner discards the work
        instead of committing it (a command handled before, or a write that lost a race)."""
        ...

    def savepoint(self) -> AbstractAsyncContextManager[object]:
        """Work inside it is undone alone when it raises; the transaction goes on."""
        ...


class SessionStorage(Protocol):
    """The session's bytes in S3: where they go, how a client may send them."""

    async def open(self, session: Session) -> str | None:
        """Prepare the session's place: its bucket, and for multipart the upload id."""
        ...

    async def presign_part(
        self,
        session: Session,
        part_number: int,
        content_length: int,
        expires_s: int,
        checksum: str | None = None,
    ) -> str:
        """`checksum`: the part's, in the session's algorithm, signed so S3 verifies it."""
        ...

    async def presign_put(self, session: Session, expires_s: int) -> str: ...

    async def uploaded_parts(self, session: Session) -> list[UploadedPart]: ...

    async def abort_upload(self, session: Session) -> None:
        """Abort the session's multipart upload only (its temp object stays)."""
        ...

    async def remove_residue(self, session: Session) -> None:
        """Abort the multipart upload and delete the temp object; raises what S3 raised."""
        ...
