"""What the completion saga needs from the world, as small ports.

Each has a real adapter (repo.py: Postgres; storage.py: S3; outbound.py: initiation over Kafka)
and an in-memory fake (tests/support/fakes/); one contract suite per port
(tests/support/contracts/) runs against both. The saga commits each step on its own, so there
is no inbox: `SagaDatabase.transaction()` is one short transaction (the claim, the Asset with
its event), and its `saga`/`leases` outside one are single statements that commit alone.
"""

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol
from uuid import UUID

from intake_completion.domain import Asset, CheckedObject
from intake_completion.saga import Attempt, Step
from intake_contracts.commands import CompletedPart
from intake_contracts.envelope import Principal
from intake_contracts.events import AssetCreated
from intake_contracts.sessions import SessionRecord
from intake_runtime.ports import EventOutbox


class SagaRepository(Protocol):
    """The saga rows and the Assets they produce."""

    async def asset(self, session_id: UUID, tenant_id: str) -> Asset | None:
        """The session's Asset in the tenant."""
        ...

    async def asset_and_foreign_saga(
        self, session_id: UUID, tenant_id: str
    ) -> tuple[Asset | None, bool]:
        """`complete`'s first read: the session's Asset in the tenant, and whether a saga of
        another tenant holds the session (then the session is not the caller's)."""
        ...

    async def asset_of(self, session_id: UUID) -> Asset | None:
        """The promoter's read: the session id came from the saga row, already tenant-bound."""
        ...

    async def insert_asset(self, asset: Asset) -> Asset | None:
        """The stored Asset, or None when the session has one already."""
        ...

    async def mark_promoted(self, session_id: UUID, object_key: str) -> Asset | None:
        """The Asset now naming `object_key` (stamped promoted), or None when promoted before."""
        ...

    async def mark_integrity_failed(self, session_id: UUID) -> Asset | None:
        """The Asset stamped as failing integrity, or None when promoted or stamped before."""
        ...

    async def end(self, session_id: UUID, current: Step, owner: UUID, reason: str) -> bool:
        """Compare-and-set from `current` straight to done, the lease given back; False when
        the saga or its lease moved on."""
        ...

    async def attempt(self, session_id: UUID) -> Attempt | None: ...

    async def open_attempt(self, session_id: UUID, tenant_id: str, asset_id: UUID) -> None:
        """A saga row at finalizing, unless the session has one."""
        ...

    async def open_and_claim(
        self, session_id: UUID, tenant_id: str, asset_id: UUID, owner: UUID, lease_s: float
    ) -> tuple[Attempt | None, int]:
        """open_attempt, then the finalizing lease for `owner` as `claim` takes it, in one
        statement; with the claimed attempt, the tenant's other live finalizations (as
        running_in_tenant counts them). (None, 0) when the lease is not free."""
        ...

    async def lock_tenant(self, tenant_id: str) -> None:
        """Until the transaction ends, the tenant's claims are counted one at a time."""
        ...

    async def running_in_tenant(self, tenant_id: str, session_id: UUID) -> int:
        """The tenant's finalizations holding a live lease, this session's own aside."""
        ...

    async def advance(self, session_id: UUID, current: Step, owner: UUID, *, release: bool) -> bool:
        """Compare-and-set to the step after `current`; False when the saga or its lease moved
        on. `release` gives the lease back with it."""
        ...

    async def due(self, limit: int) -> list[UUID]:
        """Sessions whose background steps wait for a worker (never taken, failed or crashed)."""
        ...


class SagaLeases(Protocol):
    """Who works on a saga step, until when. Lease times are the DATABASE's clock (now()), so
    replicas with skewed clocks agree on expiry; the fake takes an injectable clock instead."""

    async def claim(
        self, session_id: UUID, steps: Iterable[Step], owner: UUID, lease_s: float
    ) -> Attempt | None:
        """Take the lease when the saga is at one of `steps` and nobody holds it; else None."""
        ...

    async def renew(self, session_id: UUID, owner: UUID, lease_s: float) -> None: ...

    async def release(
        self, session_id: UUID, owner: UUID, error: str | None, retry_in_s: float = 0.0
    ) -> None:
        """Give the step back; with `retry_in_s`, nobody may claim it before that long."""
        ...


class SagaUnit(Protocol):
    """One transaction: the saga rows, their leases and the outbox on one connection."""

    @property
    def saga(self) -> SagaRepository: ...

    @property
    def leases(self) -> SagaLeases: ...

    @property
    def outbox(self) -> EventOutbox: ...


class SagaDatabase(Protocol):
    @property
    def saga(self) -> SagaRepository:
        """Each call a statement of its own, committed at once."""
        ...

    @property
    def leases(self) -> SagaLeases: ...

    def transaction(self) -> AbstractAsyncContextManager[SagaUnit]:
        """Everything done through the unit commits together, or not at all when it raises."""
        ...

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
        """All or nothing, only while `owner` holds the session's finalizing step: the saga
        moves on to promoting, `owner` keeping its lease for `lease_s` more (to hand it to
        the promoter), the Asset is inserted and `event` written to the outbox. The stored
        Asset; None when the lease was lost or an Asset exists."""
        ...


class CompletionStorage(Protocol):
    """The upload's bytes in S3 (storage.py over the typed S3 adapter)."""

    async def finalize(
        self, session: SessionRecord, parts: Sequence[CompletedPart] | None
    ) -> CheckedObject:
        """Make the upload one object at the temp key of the declared size, whose checksum in
        the declared algorithm is the declared one; that object's ETag and checksum. A
        COMPOSITE (SHA256 multipart) upload completes with every part's checksum.

        Raises:
            DomainError: upload_incomplete, parts_invalid, size_mismatch, checksum_required,
                checksum_invalid or checksum_mismatch.
        """
        ...

    async def look(self, session: SessionRecord) -> CheckedObject:
        """The object `finalize` made, checked again (a retry after MarkCompleted).

        Raises:
            DomainError: upload_incomplete, size_mismatch or checksum_mismatch.
        """
        ...

    async def verify_checksum(self, session: SessionRecord, declared_sha256: str) -> None:
        """Raises DomainError checksum_mismatch when the object's SHA-256 is another."""
        ...

    async def copy_to_permanent(self, asset: Asset, target: str) -> None:
        """Copy the Asset's temp object to `target`, only while its ETag is `asset.etag`
        (CopySourceIfMatch) and never over an object at `target` (If-None-Match: *); safe to
        repeat (a landed copy stays).

        Raises:
            DomainError: upload_incomplete when neither object exists.
            TempObjectChangedError: the temp object is not the one complete checked.
        """
        ...

    async def delete(self, bucket: str, key: str) -> None:
        """Gone afterwards; deleting what is not there is no error."""
        ...


class OutboundCommands(Protocol):
    """Initiation, the only owner of a session's status (outbound.py over request/reply).

    Both calls raise initiation's refusal as the DomainError it answered (another tenant's
    session exactly as a missing one), and anything a retry may fix as a TransientError:
    service_timeout when no reply came in time, service_unavailable when the broker did not
    take the command, or the transient code initiation answered.
    """

    async def begin_completion(self, session_id: UUID, principal: Principal) -> SessionRecord:
        """The session if it may be completed (or is COMPLETED already); else its refusal."""
        ...

    async def mark_completed(
        self, session_id: UUID, asset_id: UUID, principal: Principal
    ) -> SessionRecord:
        """Compare-and-set UPLOADING → COMPLETED; a lost race raises initiation's conflict."""
        ...
