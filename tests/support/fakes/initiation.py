"""Initiation's fakes: its sessions, transactions and session storage."""

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from intake_contracts.errors import DomainError
from intake_contracts.replies import Reply
from intake_contracts.sessions import (
    UploadedPart,
    UploadStatus,
    UploadType,
)
from intake_initiation.domain import Session
from tests.support.fakes.runtime import FakeOutbox

LIVE = (UploadStatus.INITIATING, UploadStatus.UPLOADING)


class FakeSessions:
    """The SessionRepository port over a dict; the same compare-and-set rules as the SQL."""

    def __init__(self) -> None:
        self.rows: dict[UUID, Session] = {}

    async def insert(self, session: Session) -> Session | None:
        if session.idempotency_key is not None and any(
            row.tenant_id == session.tenant_id and row.idempotency_key == session.idempotency_key
            for row in self.rows.values()
        ):
            return None
        self.rows[session.id] = session
        return session

    async def get(self, session_id: UUID, tenant_id: str) -> Session | None:
        row = self.rows.get(session_id)
        return row if row is not None and row.tenant_id == tenant_id else None

    async def by_idempotency_key(self, tenant_id: str, key: str) -> Session | None:
        return next(
            (
                r
                for r in self.rows.values()
                if r.tenant_id == tenant_id and r.idempotency_key == key
            ),
            None,
        )

    async def transition(
        self,
        session: Session,
        target: UploadStatus,
        allowed_from: list[UploadStatus],
        now: datetime,  # noqa: ARG002 - updated_at is not part of the entity
        *,
        multipart_upload_id: str | None = None,
        failure_reason: str | None = None,
        asset_id: UUID | None = None,
        idle_before: datetime | None = None,
        expired_at: datetime | None = None,
    ) -> Session | None:
        row = await self.get(session.id, session.tenant_id)
        if (
            row is None
            or row.status not in allowed_from
            or (idle_before is not None and row.last_activity_at >= idle_before)
            or (expired_at is not None and row.expires_at > expired_at)
        ):
            return None
        changed = dataclasses.replace(
            row,
            status=target,
            multipart_upload_id=multipart_upload_id or row.multipart_upload_id,
            failure_reason=failure_reason or row.failure_reason,
            asset_id=asset_id or row.asset_id,
        )
        self.rows[row.id] = changed
        return changed

    async def touch(self, session_id: UUID, tenant_id: str, now: datetime) -> Session | None:
        row = await self.get(session_id, tenant_id)
        if row is None or row.status not in LIVE:
            return None
        self.rows[row.id] = dataclasses.replace(row, last_activity_at=now)
        return self.rows[row.id]

    async def fail_many(
        self,
        sessions: list[tuple[UUID, str]],
        reason: str,
        now: datetime,
        *,
        idle_before: datetime | None = None,
        expired_at: datetime | None = None,
    ) -> list[tuple[Session, UploadStatus]]:
        failed = []
        for session_id, tenant_id in sessions:
            row = await self.get(session_id, tenant_id)
            if row is None:
                continue
            changed = await self.transition(
                row,
                UploadStatus.FAILED,
                list(LIVE),
                now,
                failure_reason=reason,
                idle_before=idle_before,
                expired_at=expired_at,
            )
            if changed is not None:
                failed.append((changed, row.status))
        return failed

    async def statuses(self, sessions: list[tuple[UUID, str]]) -> dict[UUID, UploadStatus]:
        found = {}
        for session_id, tenant_id in sessions:
            row = await self.get(session_id, tenant_id)
            if row is not None:
                found[session_id] = row.status
        return found


class FakeUnit:
    """The Unit port: a savepoint restores the rows and events as they were before it."""

    def __init__(self, sessions: FakeSessions, outbox: FakeOutbox) -> None:
        self.sessions = sessions
        self.outbox = outbox

    def if_discarded(self, undo: Callable[[], Awaitable[None]]) -> None:
        """Never called back: FakeTransactions claims before the work, as a transaction does."""

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[object]:
        rows, events = dict(self.sessions.rows), list(self.outbox.events)
        try:
            yield self
        except BaseException:
            self.sessions.rows, self.outbox.events = rows, events
            raise


class FakeTransactions:
    """The TransactionRunner with the inbox's rules: a refusal undoes the work but its reply is
    kept; a message id seen before answers its stored reply without running the work again;
    any other error undoes everything and stores nothing."""

    def __init__(self) -> None:
        self.sessions = FakeSessions()
        self.outbox = FakeOutbox()
        self.inbox: dict[UUID, Reply] = {}

    async def run(
        self,
        message_id: UUID | None,
        command_type: str,  # noqa: ARG002
        work: Callable[[FakeUnit], Awaitable[Reply]],
    ) -> Reply:
        if message_id is not None and message_id in self.inbox:
            return self.inbox[message_id]
        unit = FakeUnit(self.sessions, self.outbox)
        async with unit.savepoint():  # the whole transaction: undone on any error
            try:
                async with unit.savepoint():
                    reply = await work(unit)
            except DomainError as error:
                reply = Reply.failure(error.body())
            if message_id is not None:
                self.inbox[message_id] = reply
        return reply


@dataclass
class FakeSessionStorage:
    """The SessionStorage port in memory: open uploads, their parts, what was removed."""

    buckets: set[str] = field(default_factory=set)
    uploads: dict[str, list[UploadedPart]] = field(default_factory=dict)
    removed: list[UUID] = field(default_factory=list)
    failing: bool = False

    async def open(self, session: Session) -> str | None:
        self.buckets.add(session.bucket)
        if session.upload_type != UploadType.MULTIPART:
            return None
        upload_id = f"upload-{session.id}"
        self.uploads[upload_id] = []
        return upload_id

    async def presign_part(
        self,
        session: Session,
        part_number: int,
        content_length: int,
        expires_s: int,
        checksum: str | None = None,
    ) -> str:
        if session.multipart_upload_id not in self.uploads:
            raise ValueError("only a multipart session has parts to sign")
        signed = f"&checksum={checksum}" if checksum else ""
        return (
            f"https://s3.test/{session.bucket}/{session.temp_key}?partNumber={part_number}"
            f"&length={content_length}&expires={expires_s}{signed}"
        )

    async def presign_put(self, session: Session, expires_s: int) -> str:
        signed = f"&checksum={session.checksum}" if session.checksum_algorithm else ""
        return f"https://s3.test/{session.bucket}/{session.temp_key}?expires={expires_s}{signed}"

    async def uploaded_parts(self, session: Session) -> list[UploadedPart]:
        if session.multipart_upload_id is None:
            return []
        return list(self.uploads.get(session.multipart_upload_id, []))

    async def abort_upload(self, session: Session) -> None:
        if self.failing:
            raise OSError("storage down")
        if session.multipart_upload_id is not None:
            self.uploads.pop(session.multipart_upload_id, None)

    async def remove_residue(self, session: Session) -> None:
        await self.abort_upload(session)
        self.removed.append(session.id)
