"""Completion's fake saga database: sagas, leases and their units of work."""

import contextlib
import copy
import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from intake_completion import saga
from intake_completion.domain import Asset
from intake_completion.saga import Attempt, Step
from intake_contracts.envelope import Principal
from intake_contracts.events import AssetCreated, EventType
from tests.support.fakes.runtime import Emitted, FakeOutbox


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
