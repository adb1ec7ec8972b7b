"""In-memory fakes of the ports, for unit tests only (never beyond them: integration and
end-to-end tests run the real Postgres, S3 and Kafka). Each fake passes the same contract suite
as its real adapter (tests/support/contracts.py)."""

import base64
import contextlib
import copy
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID

from pydantic import BaseModel

from intake_audit.domain import LoggedEvent
from intake_cleanup.domain import IndexedSession, Job, RunStatus
from intake_cleanup.ports import Cursor, RunEvents
from intake_completion import domain as completion_domain
from intake_completion import saga
from intake_completion.domain import Asset
from intake_completion.saga import Attempt, Step
from intake_contracts.commands import (
    CommandSpec,
    CommandType,
    CompletedPart,
    CompletionResult,
    FailedSessions,
    JobRunView,
    PruneResult,
)
from intake_contracts.envelope import Principal
from intake_contracts.errors import CodedError, DomainError, ErrorCode, TransientError
from intake_contracts.events import EVENT_MODELS, AssetCreated, EventType, UploadLifecycleEvent
from intake_contracts.integrity import ChecksumAlgorithm
from intake_contracts.replies import Reply
from intake_contracts.sessions import (
    SessionRecord,
    StatusView,
    UploadedPart,
    UploadStatus,
    UploadType,
)
from intake_initiation import domain as initiation_domain
from intake_initiation.domain import Session
from intake_runtime.messaging.requests import BrokerUnavailableError, ReplyTimeoutError
from intake_runtime.storage.s3 import (
    DELETE_BATCH,
    DeleteFailure,
    MultipartUpload,
    StorageError,
    StoredObject,
    StoredPart,
    UploadNotFoundError,
)

LIVE = (UploadStatus.INITIATING, UploadStatus.UPLOADING)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class Emitted:
    event_type: EventType
    event: BaseModel
    key: str
    tenant_id: str | None
    correlation_id: str


@dataclass
class FakeOutbox:
    events: list[Emitted] = field(default_factory=list)

    async def add(
        self,
        event_type: EventType,
        event: BaseModel,
        *,
        key: str,
        tenant_id: str | None,
        correlation_id: str,
        principal: Principal | None = None,  # noqa: ARG002
    ) -> None:
        await self.add_many([(event_type, event, key, tenant_id)], correlation_id=correlation_id)

    async def add_many(
        self,
        events: list[tuple[EventType, BaseModel, str, str | None]],
        *,
        correlation_id: str,
        principal: Principal | None = None,  # noqa: ARG002
    ) -> int:
        for event_type, event, _, _ in events:  # all or none, as the real outbox's one insert
            model, _ = EVENT_MODELS[event_type]
            if not isinstance(event, model):
                name = type(event).__name__
                raise TypeError(f"{event_type} carries {model.__name__}, not {name}")
        self.events += [
            Emitted(t, event, key, tenant, correlation_id) for t, event, key, tenant in events
        ]
        return len(events)


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


class FakeEventLog:
    """Audit's EventLog port over a list: dedupe by event id, trail oldest first, then in
    arrival order (the SQL's `ORDER BY occurred_at, seq`)."""

    def __init__(self) -> None:
        self.events: list[LoggedEvent] = []

    async def append_many(self, events: list[LoggedEvent]) -> int:
        known = {event.event_id for event in self.events}
        new = []
        for event in events:
            if event.event_id not in known:
                known.add(event.event_id)
                new.append(event)
        self.events.extend(new)
        return len(new)

    async def trail(self, tenant_id: str, upload_session_id: UUID) -> list[LoggedEvent]:
        mine = [
            e
            for e in self.events
            if e.tenant_id == tenant_id and e.upload_session_id == upload_session_id
        ]
        return sorted(mine, key=lambda event: event.occurred_at)


# --- completion ------------------------------------------------------------------------------


@dataclass
class _SagaRow:
    attempt: Attempt
    tries: int = 0
    last_error: str | None = None


class FakeSaga:
    """Completion's SagaRepository over dicts: the same compare-and-sets as the SQL. Lease
    times come from the injected clock, the fake's stand-in for the database's now()."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.now = clock
        self.assets: dict[UUID, Asset] = {}
        self.rows: dict[UUID, _SagaRow] = {}

    def _live(self, attempt: Attempt) -> bool:
        return not saga.lease_free(attempt.lease_until, self.now())

    async def asset(self, session_id: UUID, tenant_id: str) -> Asset | None:
        found = self.assets.get(session_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    async def asset_of(self, session_id: UUID) -> Asset | None:
        return self.assets.get(session_id)

    async def asset_and_foreign_saga(
        self, session_id: UUID, tenant_id: str
    ) -> tuple[Asset | None, bool]:
        row = self.rows.get(session_id)
        foreign = row is not None and row.attempt.tenant_id != tenant_id
        return await self.asset(session_id, tenant_id), foreign

    async def insert_asset(self, asset: Asset) -> Asset | None:
        if asset.upload_session_id in self.assets:
            return None
        stored = asset.model_copy(update={"created_at": self.now()})
        self.assets[asset.upload_session_id] = stored
        return stored

    async def mark_promoted(self, session_id: UUID, object_key: str) -> Asset | None:
        found = self.assets.get(session_id)
        if found is None or found.promoted_at is not None:
            return None
        promoted = found.model_copy(update={"object_key": object_key, "promoted_at": self.now()})
        self.assets[session_id] = promoted
        return promoted

    async def mark_integrity_failed(self, session_id: UUID) -> Asset | None:
        found = self.assets.get(session_id)
        if found is None or found.promoted_at is not None or found.integrity_failed_at:
            return None
        failed = found.model_copy(update={"integrity_failed_at": self.now()})
        self.assets[session_id] = failed
        return failed

    async def end(self, session_id: UUID, current: Step, owner: UUID, reason: str) -> bool:
        row = self.rows.get(session_id)
        if row is None or row.attempt.step != current or row.attempt.lease_owner != owner:
            return False
        row.attempt = dataclasses.replace(
            row.attempt, step=Step.DONE, lease_owner=None, lease_until=None
        )
        row.last_error = reason
        return True

    async def attempt(self, session_id: UUID) -> Attempt | None:
        row = self.rows.get(session_id)
        return row.attempt if row is not None else None

    async def open_attempt(self, session_id: UUID, tenant_id: str, asset_id: UUID) -> None:
        if session_id not in self.rows:
            attempt = Attempt(session_id, tenant_id, asset_id, Step.FINALIZING, None, None)
            self.rows[session_id] = _SagaRow(attempt)

    async def open_and_claim(
        self, session_id: UUID, tenant_id: str, asset_id: UUID, owner: UUID, lease_s: float
    ) -> tuple[Attempt | None, int]:
        await self.open_attempt(session_id, tenant_id, asset_id)
        row = self.rows[session_id]
        if row.attempt.step != Step.FINALIZING or self._live(row.attempt):
            return None, 0
        running = await self.running_in_tenant(tenant_id, session_id)
        until = self.now() + timedelta(seconds=lease_s)
        row.attempt = dataclasses.replace(row.attempt, lease_owner=owner, lease_until=until)
        row.tries += 1
        return row.attempt, running

    async def lock_tenant(self, tenant_id: str) -> None:
        """Nothing to do: one event loop runs one claim's statements without interleaving."""

    async def running_in_tenant(self, tenant_id: str, session_id: UUID) -> int:
        return sum(
            1
            for row in self.rows.values()
            if row.attempt.tenant_id == tenant_id
            and row.attempt.step == Step.FINALIZING
            and self._live(row.attempt)
            and row.attempt.upload_session_id != session_id
        )

    async def advance(self, session_id: UUID, current: Step, owner: UUID, *, release: bool) -> bool:
        row = self.rows.get(session_id)
        if row is None or row.attempt.step != current or row.attempt.lease_owner != owner:
            return False
        held = (None, None) if release else (owner, row.attempt.lease_until)
        row.attempt = dataclasses.replace(
            row.attempt,
            step=saga.next_step(current),
            lease_owner=held[0],
            lease_until=held[1],
        )
        row.last_error = None
        return True

    async def due(self, limit: int) -> list[UUID]:
        return [
            session_id
            for session_id, row in self.rows.items()
            if row.attempt.step in saga.BACKGROUND and not self._live(row.attempt)
        ][:limit]


class FakeLeases:
    """Completion's SagaLeases over the FakeSaga's rows; `down` makes every call fail, as a
    lost database would (so a crash's lease is left to expire)."""

    def __init__(self, rows: FakeSaga) -> None:
        self._saga = rows
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise OSError("database unreachable")

    async def claim(
        self, session_id: UUID, steps: Iterable[Step], owner: UUID, lease_s: float
    ) -> Attempt | None:
        self._check()
        row = self._saga.rows.get(session_id)
        if row is None or row.attempt.step not in set(steps) or self._saga._live(row.attempt):
            return None
        until = self._saga.now() + timedelta(seconds=lease_s)
        row.tries += 1
        row.attempt = dataclasses.replace(
            row.attempt, lease_owner=owner, lease_until=until, tries=row.tries
        )
        return row.attempt

    async def renew(self, session_id: UUID, owner: UUID, lease_s: float) -> None:
        self._check()
        row = self._saga.rows.get(session_id)
        if row is not None and row.attempt.lease_owner == owner:
            until = self._saga.now() + timedelta(seconds=lease_s)
            row.attempt = dataclasses.replace(row.attempt, lease_until=until)

    async def release(
        self, session_id: UUID, owner: UUID, error: str | None, retry_in_s: float = 0.0
    ) -> None:
        self._check()
        row = self._saga.rows.get(session_id)
        if row is not None and row.attempt.lease_owner == owner:
            until = self._saga.now() + timedelta(seconds=retry_in_s) if retry_in_s > 0 else None
            row.attempt = dataclasses.replace(row.attempt, lease_owner=None, lease_until=until)
            row.last_error = error


@dataclass
class FakeSagaUnit:
    saga: FakeSaga
    leases: FakeLeases
    outbox: FakeOutbox


class FakeSagaDatabase:
    """Completion's SagaDatabase: a transaction that raises leaves rows and events as they were."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.saga = FakeSaga(clock)
        self.leases = FakeLeases(self.saga)
        self.outbox = FakeOutbox()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeSagaUnit]:
        assets, rows = dict(self.saga.assets), copy.deepcopy(self.saga.rows)
        events = list(self.outbox.events)
        try:
            yield FakeSagaUnit(self.saga, self.leases, self.outbox)
        except BaseException:
            self.saga.assets, self.saga.rows, self.outbox.events = assets, rows, events
            raise

    async def record_asset(
        self,
        asset: Asset,
        event: AssetCreated,
        owner: UUID,
        *,
        lease_s: float,
        correlation_id: str,
        principal: Principal | None,
    ) -> Asset | None:
        session_id = asset.upload_session_id
        row = self.saga.rows.get(session_id)
        if row is None or row.attempt.step != Step.FINALIZING or row.attempt.lease_owner != owner:
            return None
        # As the SQL: the saga moves on with the lease kept for `owner` and renewed.
        until = self.saga.now() + timedelta(seconds=lease_s)
        if session_id in self.saga.assets:
            await self.saga.advance(session_id, Step.FINALIZING, owner, release=False)
            row.attempt = dataclasses.replace(row.attempt, lease_until=until)
            return None
        async with self.transaction() as tx:
            stored = await tx.saga.insert_asset(asset)
            await tx.outbox.add(
                EventType.ASSET_CREATED,
                event,
                key=str(session_id),
                tenant_id=asset.tenant_id,
                correlation_id=correlation_id,
                principal=principal,
            )
            await tx.saga.advance(session_id, Step.FINALIZING, owner, release=False)
            row.attempt = dataclasses.replace(row.attempt, lease_until=until)
        return stored

    def promoted(self) -> list[Emitted]:
        return [e for e in self.outbox.events if e.event_type == EventType.ASSET_PROMOTED]

    def created(self) -> list[Emitted]:
        return [e for e in self.outbox.events if e.event_type == EventType.ASSET_CREATED]


Failure = BaseException | Callable[[], object]


def _fail(failure: Failure | None) -> None:
    if isinstance(failure, CodedError):  # as a real adapter raises an answer of that code
        raise failure.body().exception()
    if isinstance(failure, BaseException):
        raise failure
    if failure is not None:
        failure()  # raises


def _etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _sha256_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class FakeCompletionStorage:
    """Completion's CompletionStorage over a dict of objects and open multipart uploads.

    `broken` names operations that fail on their next call (once), to stand in for S3 failing
    (or the process dying) at that point: an error to raise, or a function that raises.
    """

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.uploads: dict[str, dict[int, bytes]] = {}
        self.broken: dict[str, Failure] = {}
        self.calls: list[str] = []

    def _call(self, operation: str) -> None:
        self.calls.append(operation)
        _fail(self.broken.pop(operation, None))

    async def finalize(
        self, session: SessionRecord, parts: Sequence[CompletedPart] | None
    ) -> completion_domain.CheckedObject:
        self._call("finalize")
        if session.upload_type == UploadType.MULTIPART:
            self._complete_multipart(session, parts)
        return await self.look(session)

    async def look(self, session: SessionRecord) -> completion_domain.CheckedObject:
        self._call("look")
        stored = self.objects.get((session.bucket, session.temp_key))
        if stored is None:
            raise DomainError(ErrorCode.UPLOAD_INCOMPLETE, "no uploaded object was found")
        completion_domain.check_size(len(stored), session.size_bytes)
        algorithm = session.checksum_algorithm
        # S3 keeps a checksum of a direct upload that signed one (and of a FULL_OBJECT CRC
        # multipart upload); the fake computes SHA256 only.
        kept = (
            _sha256_base64(stored)
            if algorithm == ChecksumAlgorithm.SHA256 and session.upload_type == UploadType.DIRECT
            else None
        )
        checksum = completion_domain.checked_checksum(algorithm, session.checksum, kept)
        return completion_domain.CheckedObject(_etag(stored), algorithm, checksum)

    def _complete_multipart(
        self, session: SessionRecord, requested: Sequence[CompletedPart] | None
    ) -> None:
        upload_id = session.multipart_upload_id
        if upload_id is None or session.part_count is None:
            raise DomainError(ErrorCode.UPLOAD_INCOMPLETE, "the multipart upload was never opened")
        stored = self.uploads.get(upload_id)
        if stored is None:  # completed by an earlier attempt, or aborted
            return
        uploaded = [
            completion_domain.UploadedPart(number, len(data), _etag(data))
            for number, data in stored.items()
        ]
        chosen = completion_domain.parts_to_complete(
            uploaded, requested, session.part_count, session.size_bytes
        )
        body = b"".join(stored[number] for number, _ in chosen)
        self.objects[session.bucket, session.temp_key] = body
        del self.uploads[upload_id]

    async def verify_checksum(self, session: SessionRecord, declared_sha256: str) -> None:
        self._call("verify_checksum")
        body = self.objects.get((session.bucket, session.temp_key), b"")
        completion_domain.check_checksum(hashlib.sha256(body).hexdigest(), declared_sha256)

    async def copy_to_permanent(self, asset: Asset, target: str) -> None:
        self._call("copy_to_permanent")
        if (asset.bucket, target) in self.objects:  # never overwritten (If-None-Match: *)
            return
        source = self.objects.get((asset.bucket, asset.object_key))
        if source is None:
            raise DomainError(
                ErrorCode.UPLOAD_INCOMPLETE, "the completed upload's object is missing"
            )
        if asset.etag is not None and _etag(source) != asset.etag:  # CopySourceIfMatch
            raise completion_domain.TempObjectChangedError(_etag(source))
        self.objects[asset.bucket, target] = source

    async def delete(self, bucket: str, key: str) -> None:
        self._call("delete")
        self.objects.pop((bucket, key), None)


def _initiation_refusal(status: UploadStatus, failure_reason: str | None) -> DomainError:
    """What initiation answers for a session that is not (or no longer) live."""
    if status == UploadStatus.FAILED and failure_reason == initiation_domain.EXPIRED_REASON:
        return DomainError(ErrorCode.UPLOAD_SESSION_EXPIRED, "upload session has expired")
    return initiation_domain.refusal_for_terminal(status)


# What the request/reply adapters raise when the broker does not take a command, or no reply
# comes before the deadline: the fakes' `stall()` and `cut_off()` raise exactly these.
NO_REPLY = ReplyTimeoutError("no reply within the deadline")
BROKER_DOWN = BrokerUnavailableError("the broker did not take the command")


class FakeInitiation:
    """Completion's SessionPeers: initiation's begin_completion and mark_completed rules over
    a dict of session records (initiation's pure rules where it has them), its refusals as the
    DomainError the real client raises; `stall()` and `cut_off()` make every call fail as the
    real client does when no reply comes in time or the broker does not take the command."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.sessions: dict[UUID, SessionRecord] = {}
        self.broken: dict[str, Failure] = {}
        self._now = clock or FakeClock()
        self._transport: BaseException | None = None

    def stall(self) -> None:
        self._transport = TransientError(ErrorCode.SERVICE_TIMEOUT, str(NO_REPLY))

    def cut_off(self) -> None:
        self._transport = TransientError(ErrorCode.SERVICE_UNAVAILABLE, str(BROKER_DOWN))

    def _call(self, operation: str) -> None:
        _fail(self._transport)
        _fail(self.broken.pop(operation, None))

    def _find(self, session_id: UUID, principal: Principal) -> SessionRecord:
        found = self.sessions.get(session_id)
        if found is None or found.tenant_id != principal.tenant_id:
            raise DomainError(ErrorCode.UPLOAD_SESSION_NOT_FOUND, "upload session not found")
        principal.require_brand(found.brand_id)
        return found

    async def begin_completion(self, session_id: UUID, principal: Principal) -> SessionRecord:
        self._call("begin_completion")
        found = self._find(session_id, principal)
        if found.status == UploadStatus.COMPLETED:
            return found
        if initiation_domain.is_terminal(found.status):
            raise _initiation_refusal(found.status, found.failure_reason)
        if initiation_domain.is_expired(found.expires_at, self._now()):
            raise DomainError(ErrorCode.UPLOAD_SESSION_EXPIRED, "upload session has expired")
        if found.status != UploadStatus.UPLOADING:
            raise DomainError(ErrorCode.INVALID_SESSION_STATE, "upload has not started")
        return found

    async def mark_completed(
        self, session_id: UUID, asset_id: UUID, principal: Principal
    ) -> SessionRecord:
        self._call("mark_completed")
        initiation_domain.require_service(principal)
        found = self._find(session_id, principal)
        if found.status == UploadStatus.COMPLETED and found.asset_id == asset_id:
            return found
        if found.status != UploadStatus.UPLOADING:
            raise _initiation_refusal(found.status, found.failure_reason)
        completed = found.model_copy(
            update={"status": UploadStatus.COMPLETED, "asset_id": asset_id}
        )
        self.sessions[session_id] = completed
        return completed


# --- cleanup ---------------------------------------------------------------------------------

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


class FakeRetention:
    """Cleanup's RetentionRepository: rows by the instant they became prunable, per table."""

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


@dataclass
class _Upload:
    upload: MultipartUpload
    parts: list[StoredPart] = field(default_factory=list)


class FakeObjectStore:
    """Cleanup's CleanupStorage over dicts, listing in pages of `page_size` as S3 does.

    `failing_keys` refuse deletes and aborts with a StorageError; `sticky_uploads` survive an
    abort (S3 answered, but the upload is still listed with its parts)."""

    def __init__(self, page_size: int = 1000) -> None:
        self.page_size = page_size
        self.objects: dict[str, dict[str, StoredObject]] = {}
        self.uploads: dict[str, dict[str, _Upload]] = {}
        self.failing_keys: set[str] = set()
        self.sticky_uploads: set[str] = set()
        self.deleted: list[tuple[str, str]] = []
        self.aborted: list[tuple[str, str]] = []
        # DeleteObjects requests delete_many made (up to 1,000 keys each).
        self.delete_requests = 0

    def put(self, bucket: str, key: str, at: datetime, size: int = 5) -> None:
        self.objects.setdefault(bucket, {})[key] = StoredObject(key, size, at)

    def open_upload(self, bucket: str, key: str, upload_id: str, at: datetime) -> None:
        self.uploads.setdefault(bucket, {})[upload_id] = _Upload(
            MultipartUpload(key, upload_id, at), [StoredPart(1, 5, "e")]
        )

    def _check(self, key: str) -> None:
        if key in self.failing_keys:
            raise StorageError("AccessDenied", f"S3 refused {key}")

    async def list_buckets(self, prefix: str = "") -> list[str]:
        return sorted(b for b in self.objects.keys() | self.uploads.keys() if b.startswith(prefix))

    async def iter_objects(self, bucket: str, prefix: str) -> AsyncIterator[list[StoredObject]]:
        found = sorted(
            (o for o in self.objects.get(bucket, {}).values() if o.key.startswith(prefix)),
            key=lambda o: o.key,
        )
        for start in range(0, len(found), self.page_size):
            yield found[start : start + self.page_size]

    async def iter_multipart_uploads(
        self, bucket: str, prefix: str
    ) -> AsyncIterator[list[MultipartUpload]]:
        found = sorted(
            (
                u.upload
                for u in self.uploads.get(bucket, {}).values()
                if u.upload.key.startswith(prefix)
            ),
            key=lambda u: (u.key, u.upload_id),
        )
        for start in range(0, len(found), self.page_size):
            yield found[start : start + self.page_size]

    async def delete(self, bucket: str, key: str) -> None:
        self._check(key)
        self.objects.get(bucket, {}).pop(key, None)
        self.deleted.append((bucket, key))

    async def delete_many(self, bucket: str, keys: Sequence[str]) -> list[DeleteFailure]:
        self.delete_requests += -(-len(keys) // DELETE_BATCH)
        left = []
        for key in keys:
            try:
                await self.delete(bucket, key)
            except StorageError as error:
                left.append(DeleteFailure(key, error.code, str(error)))
        return left

    async def abort_multipart(self, bucket: str, key: str, upload_id: str) -> bool:
        self._check(key)
        uploads = self.uploads.get(bucket, {})
        if upload_id not in uploads:
            return False
        self.aborted.append((bucket, upload_id))
        if upload_id not in self.sticky_uploads:
            del uploads[upload_id]
        return True

    async def list_parts(self, bucket: str, key: str, upload_id: str) -> list[StoredPart]:
        found = self.uploads.get(bucket, {}).get(upload_id)
        if found is None or found.upload.key != key:
            raise UploadNotFoundError("NoSuchUpload", f"no upload {upload_id}")
        return list(found.parts)


class FakeCleanupPeers:
    """Initiation and completion as cleanup asks them. Initiation knows the sessions in
    `statuses` (each in the tenant `tenants` names): fail_sessions is its compare-and-set, which
    spares a session active since the cutoff (`activity`) or not yet expired (`expiry`);
    complete answers from `assets`; prunes drain `backlog` (each row by when it finished) up to
    the cutoff; promoting keys per tenant. `broken` makes an operation fail on its next call
    (once); `stall()` and `cut_off()` make every call fail as the real client does."""

    def __init__(self) -> None:
        self.statuses: dict[UUID, UploadStatus] = {}
        self.tenants: dict[UUID, str] = {}
        self.activity: dict[UUID, datetime] = {}
        self.expiry: dict[UUID, datetime] = {}
        self.assets: dict[UUID, CompletionResult] = {}
        self.backlog: dict[str, list[datetime]] = {"initiation": [], "completion": []}
        self.promoting: dict[str, set[str]] = {}
        self.broken: dict[str, Failure] = {}
        self.fail_calls: list[tuple[list[UUID], str]] = []
        self.completed: list[UUID] = []
        self._transport: BaseException | None = None

    def stall(self) -> None:
        self._transport = NO_REPLY

    def cut_off(self) -> None:
        self._transport = BROKER_DOWN

    def _call(self, operation: str) -> None:
        _fail(self._transport)
        _fail(self.broken.pop(operation, None))

    def know(self, session: IndexedSession, status: UploadStatus, *, active_at: datetime) -> None:
        """Initiation holds `session` (in its tenant) at `status`, last active at `active_at`."""
        self.statuses[session.id] = status
        self.tenants[session.id] = session.tenant_id
        self.activity[session.id] = active_at
        self.expiry[session.id] = session.expires_at

    def _status(self, session: IndexedSession) -> UploadStatus | None:
        if self.tenants.get(session.id) != session.tenant_id:
            return None  # each row is looked up in its own tenant
        return self.statuses.get(session.id)

    def _spared(
        self, session_id: UUID, idle_before: datetime | None, expired_at: datetime | None
    ) -> bool:
        """initiation's conditions, re-checked inside its compare-and-set."""
        active = idle_before is not None and self.activity[session_id] >= idle_before
        alive = expired_at is not None and self.expiry[session_id] > expired_at
        return active or alive

    async def fail_sessions(
        self,
        sessions: Sequence[IndexedSession],
        reason: str,
        *,
        idle_before: datetime | None = None,
        expired_at: datetime | None = None,
    ) -> FailedSessions:
        self._call("fail_sessions")
        self.fail_calls.append(([s.id for s in sessions], reason))
        moved, unchanged = [], []
        for session in sessions:
            status = self._status(session)
            if status is None:
                continue
            if status in LIVE and not self._spared(session.id, idle_before, expired_at):
                self.statuses[session.id] = UploadStatus.FAILED
                moved.append(session.id)
            else:
                unchanged.append(StatusView(upload_session_id=session.id, status=status))
        return FailedSessions(moved=sorted(moved), unchanged=unchanged)

    async def complete(self, session: IndexedSession) -> CompletionResult:
        self._call(f"complete:{session.id}")
        self.completed.append(session.id)
        found = self.assets.get(session.id)
        if found is not None and found.asset.tenant_id == session.tenant_id:
            return found
        status = self._status(session)
        if status is not None and initiation_domain.is_terminal(status):
            raise _initiation_refusal(status, None)
        raise DomainError(ErrorCode.UPLOAD_SESSION_NOT_FOUND, "upload session not found")

    def _prune(self, name: str, older_than: datetime, limit: int) -> PruneResult:
        self._call(f"prune:{name}")
        doomed = sorted(at for at in self.backlog[name] if at < older_than)[:limit]
        for at in doomed:
            self.backlog[name].remove(at)
        return PruneResult(removed=len(doomed), inbox_removed=0, outbox_removed=0)

    async def prune_sessions(self, older_than: datetime, limit: int) -> PruneResult:
        return self._prune("initiation", older_than, limit)

    async def prune_completions(self, older_than: datetime, limit: int) -> PruneResult:
        return self._prune("completion", older_than, limit)

    async def promoting_keys(self, tenant_id: str, keys: list[str]) -> set[str]:
        self._call(f"promoting:{tenant_id}")
        return self.promoting.get(tenant_id, set()) & set(keys)


class FakeReplyTopics:
    """Cleanup's ReplyTopics: topic → held by a live consumer (only the topics under the
    prefix are reply topics); `refuse` names topics whose deletion the broker refuses."""

    def __init__(self, prefix: str = "intake.replies.") -> None:
        self._prefix = prefix
        self.topics: dict[str, bool] = {}
        self.refuse: set[str] = set()
        self.deleted: list[str] = []

    def prefix(self) -> str:
        return self._prefix

    async def liveness(self) -> dict[str, bool]:
        return {t: live for t, live in sorted(self.topics.items()) if t.startswith(self._prefix)}

    async def delete(self, doomed: list[str]) -> dict[str, str | None]:
        outcome: dict[str, str | None] = {}
        for topic in doomed:
            if topic in self.refuse:
                outcome[topic] = "refused"
                continue
            self.topics.pop(topic, None)
            self.deleted.append(topic)
            outcome[topic] = None
        return outcome


# --- gateway ---------------------------------------------------------------------------------

Req = TypeVar("Req", bound=BaseModel)
Res = TypeVar("Res", bound=BaseModel)


@dataclass(frozen=True)
class Sent:
    command: CommandType
    payload: BaseModel
    principal: Principal
    key: UUID | None


class FakeCommandClient:
    """The gateway's CommandClient: each command answers what `answers` holds for it (a
    result model, or an error raised as the real client raises that answer), every call is
    kept in `sent`; `stall()` and `cut_off()` make every call fail as the real client does."""

    def __init__(self) -> None:
        self.answers: dict[CommandType, BaseModel | BaseException] = {}
        self.sent: list[Sent] = []
        self._transport: BaseException | None = None

    def stall(self) -> None:
        self._transport = NO_REPLY

    def cut_off(self) -> None:
        self._transport = BROKER_DOWN

    async def call(
        self,
        command: CommandSpec[Req, Res],
        payload: Req,
        principal: Principal,
        *,
        key: UUID | None = None,
    ) -> Res:
        _fail(self._transport)
        self.sent.append(Sent(command.name, payload, principal, key))
        answer = self.answers.get(command.name)
        if answer is None:
            raise AssertionError(f"the test gave no answer to {command.name}")
        if isinstance(answer, BaseException):
            _fail(answer)
        assert isinstance(answer, BaseModel)
        return command.result.model_validate(answer.model_dump(mode="json"))
