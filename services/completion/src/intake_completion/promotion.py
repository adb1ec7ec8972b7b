"""The saga's background steps: copy the object to its permanent key, then drop the temp one.

Runs after `complete` answered. Each promotion is retried until done: a failure releases the
step, a crash lets its lease expire, and the sweep (or cleanup's reconcile, through `complete`)
starts it again.
"""

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import AsyncIterator, Callable
from uuid import UUID, uuid4

from pydantic import BaseModel

from intake_completion import faults, leases, saga, views
from intake_completion.domain import Asset, TempObjectChangedError
from intake_completion.ports import CompletionStorage, SagaDatabase, SagaUnit
from intake_completion.saga import Attempt, Step
from intake_completion.settings import CRASH_DURING_PROMOTION, CompletionSettings
from intake_contracts import keys
from intake_contracts.events import EventType
from intake_runtime.tasks import stop_task

log = logging.getLogger(__name__)

_SWEEP_BATCH = 100


class Promoter:
    def __init__(
        self,
        settings: CompletionSettings,
        database: SagaDatabase,
        storage: CompletionStorage,
        crash: Callable[[int], object] = os._exit,
    ) -> None:
        self._settings = settings
        self._db = database
        self._storage = storage
        self._crash = crash
        self._gate = asyncio.Semaphore(settings.promotion_workers)
        self._running: dict[UUID, asyncio.Task[None]] = {}

    def start(
        self, session_id: UUID, correlation_id: str = "", lease: saga.PromotionLease | None = None
    ) -> None:
        """Start the background steps of `session_id` unless this process runs them already;
        with `lease` (the lease `complete` kept), always: only its owner can do them. `complete`
        calls this through its command's `after_reply`: a promotion starting at once (no claim
        first) put its CopyObject's CPU ahead of the reply."""
        if session_id in self._running and lease is None:
            return
        task = asyncio.create_task(self._run(session_id, correlation_id, lease), name="promotion")
        self._running[session_id] = task
        task.add_done_callback(functools.partial(self._forget, session_id))

    def _forget(self, session_id: UUID, task: "asyncio.Task[None]") -> None:
        if self._running.get(session_id) is task:
            del self._running[session_id]

    async def sweep_forever(self) -> None:
        """Pick up steps nobody holds: failed ones, and a crashed replica's once expired."""
        while True:
            try:
                for session_id in await self._db.saga.due(_SWEEP_BATCH):
                    self.start(session_id)
            except Exception as error:  # whatever the database raised: the next sweep retries
                log.warning("promotion sweep failed", extra={"error": str(error)})
            await asyncio.sleep(self._settings.promotion_sweep_s)

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _run(
        self, session_id: UUID, correlation_id: str, lease: saga.PromotionLease | None
    ) -> None:
        try:
            async with self._gate:
                if lease is None:
                    await self.promote(session_id, correlation_id)
                else:
                    await self.take_over(lease, correlation_id)
        except Exception:
            # Released (or left to expire): the sweep retries it.
            log.exception("promotion failed", extra={"upload_session_id": str(session_id)})

    async def promote(self, session_id: UUID, correlation_id: str = "") -> bool:
        """Run the background steps once; False when nothing was due or another worker has them."""
        owner = uuid4()
        lease_s = self._settings.lease_s
        attempt = await self._db.leases.claim(session_id, saga.BACKGROUND, owner, lease_s)
        if attempt is None:
            return False
        await self._steps(attempt, owner, None, correlation_id)
        return True

    async def take_over(self, lease: saga.PromotionLease, correlation_id: str = "") -> None:
        """Run the background steps of a saga `complete` has just moved to promoting, under
        the lease and with the Asset it handed over. Should the lease have lapsed meanwhile
        (a wait at the gate longer than the lease), the step's compare-and-set refuses it."""
        await self._steps(lease.attempt(), lease.owner, lease.asset, correlation_id)

    async def _steps(
        self, attempt: Attempt, owner: UUID, asset: Asset | None, correlation_id: str
    ) -> None:
        session_id, lease_s = attempt.upload_session_id, self._settings.lease_s
        try:
            async with leases.held(self._db.leases, session_id, owner, lease_s):
                # The bucket and temp key stay the same through both steps: read once.
                asset = asset or await self._asset(session_id)
                if attempt.step == Step.PROMOTING and not await self._promote(
                    asset, owner, correlation_id
                ):
                    return
                await self._release_temp(asset, owner)
        except BaseException as error:
            # Backs off: a step that cannot succeed yet (S3 down, a row it needs missing) is
            # retried ever less often, not at every sweep for as long as it fails.
            retry_in_s = saga.retry_delay_s(
                attempt.tries,
                self._settings.promotion_sweep_s,
                self._settings.promotion_backoff_max_s,
            )
            await leases.release(self._db.leases, session_id, owner, error, retry_in_s)
            raise
        log.info("asset promoted", extra={"upload_session_id": str(session_id)})

    async def _promote(self, asset: Asset, owner: UUID, correlation_id: str) -> bool:
        """Copy to the permanent key and name it; False when the temp object failed integrity
        (the Asset is marked so and its saga ends: nothing is copied, now or later)."""
        session_id = asset.upload_session_id
        target = keys.asset_key(asset.tenant_id, asset.asset_id)
        try:
            await self._storage.copy_to_permanent(asset, target)
        except TempObjectChangedError as changed:
            await self._fail_integrity(asset, owner, changed, correlation_id)
            return False
        faults.inject(self._settings, CRASH_DURING_PROMOTION, self._crash)
        # One transaction: the Asset names the new key exactly when the event says so.
        async with self._db.transaction() as tx:
            promoted = await tx.saga.mark_promoted(session_id, target)
            if promoted is not None:
                event = views.promoted_event(promoted, asset.object_key)
                await _emit(tx, EventType.ASSET_PROMOTED, event, asset, correlation_id)
            if not await tx.saga.advance(session_id, Step.PROMOTING, owner, release=False):
                raise saga.StepConflictError(f"promotion of {session_id} was taken over")
        return True

    async def _fail_integrity(
        self, asset: Asset, owner: UUID, changed: TempObjectChangedError, correlation_id: str
    ) -> None:
        """One transaction: the Asset marked, `asset.integrity_failed` written, the saga done.
        The temp object stays for an operator to look at (cleanup's orphan job removes it)."""
        session_id = asset.upload_session_id
        log.warning(
            "temp object changed after complete; not promoted",
            extra={"upload_session_id": str(session_id), "found_etag": changed.found_etag},
        )
        async with self._db.transaction() as tx:
            failed = await tx.saga.mark_integrity_failed(session_id)
            if failed is not None:
                event = views.integrity_failed_event(failed, changed.found_etag)
                await _emit(tx, EventType.ASSET_INTEGRITY_FAILED, event, asset, correlation_id)
            if not await tx.saga.end(session_id, Step.PROMOTING, owner, str(changed)):
                raise saga.StepConflictError(f"promotion of {session_id} was taken over")

    async def _release_temp(self, asset: Asset, owner: UUID) -> None:
        session_id = asset.upload_session_id
        # Deleted only now that the Asset names the permanent key: nothing points here.
        await self._storage.delete(asset.bucket, keys.temp_key(session_id))
        await self._db.saga.advance(session_id, Step.RELEASING, owner, release=True)

    async def _asset(self, session_id: UUID) -> Asset:
        asset = await self._db.saga.asset_of(session_id)
        if asset is None:
            raise RuntimeError(f"saga of {session_id} is past finalizing without an asset")
        return asset


async def _emit(
    tx: SagaUnit, event_type: EventType, event: BaseModel, asset: Asset, correlation_id: str
) -> None:
    """An event of the asset, keyed by its session as every event of that upload is."""
    await tx.outbox.add(
        event_type,
        event,
        key=str(asset.upload_session_id),
        tenant_id=asset.tenant_id,
        correlation_id=correlation_id,
    )


@contextlib.asynccontextmanager
async def sweeping(promoter: Promoter) -> AsyncIterator[Promoter]:
    """The promoter with its sweep running; both stop when the service does."""
    sweep = asyncio.create_task(promoter.sweep_forever(), name="promotion-sweep")
    try:
        yield promoter
    finally:
        await stop_task(sweep)
        await promoter.close()
