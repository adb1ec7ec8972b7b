"""A saga step's lease, renewed while its worker lives: only a crashed worker's step expires."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from uuid import UUID

from intake_completion.ports import SagaLeases
from intake_runtime.tasks import stop_task

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def held(
    leases: SagaLeases, session_id: UUID, owner: UUID, lease_s: float
) -> AsyncIterator[None]:
    """Renew `owner`'s lease every third of its length until the block ends."""

    async def renew_forever() -> None:
        while True:
            await asyncio.sleep(lease_s / 3)
            try:
                await leases.renew(session_id, owner, lease_s)
            except Exception as error:  # whatever the database raised
                # One missed renewal leaves two more before the lease expires.
                log.warning("lease not renewed", extra={"error": str(error)})

    renewal = asyncio.create_task(renew_forever(), name=f"lease-{session_id}")
    try:
        yield
    finally:
        await stop_task(renewal)


async def release(
    leases: SagaLeases,
    session_id: UUID,
    owner: UUID,
    error: BaseException | None,
    retry_in_s: float = 0.0,
) -> None:
    """Give the step back, so a retry need not wait for the lease to expire (only
    `retry_in_s`, a background step's back-off): after a failure (`error`), or with None
    after a step that did not fail but has nothing to hand on (the Asset was recorded by
    another worker). A lease this owner no longer holds stays as it is."""
    reason = None if error is None else f"{type(error).__name__}: {error}"[:500]
    try:
        await leases.release(session_id, owner, reason, retry_in_s)
    except Exception as failure:  # whatever the database raised
        log.warning("lease not released; it expires", extra={"error": str(failure)})
