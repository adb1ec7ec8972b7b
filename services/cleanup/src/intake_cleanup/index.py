"""The session index: what cleanup learns from lifecycle and asset events, applied once each."""

import logging

import asyncpg

from intake_cleanup import repo
from intake_contracts.envelope import Envelope
from intake_contracts.events import STATUS_EVENT, AssetCreated, EventType, UploadLifecycleEvent

log = logging.getLogger(__name__)

_LIFECYCLE_TYPES = frozenset(STATUS_EVENT.values())


class SessionIndex:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def apply(self, envelope: Envelope) -> bool:
        """Apply one event; False when it is not ours to index or was applied before."""
        if envelope.type in _LIFECYCLE_TYPES:
            event = UploadLifecycleEvent.model_validate(envelope.payload)
            async with self._pool.acquire() as connection, connection.transaction():
                if not await repo.claim_event(connection, envelope.message_id):
                    return False
                await repo.upsert_session(connection, event, envelope.occurred_at)
            return True
        if envelope.type == EventType.ASSET_CREATED:
            asset = AssetCreated.model_validate(envelope.payload)
            # Recording an asset is idempotent by itself (keyed by session): no claim needed.
            await repo.record_asset(
                self._pool, asset.upload_session_id, asset.asset_id, asset.tenant_id
            )
            return True
        return False
