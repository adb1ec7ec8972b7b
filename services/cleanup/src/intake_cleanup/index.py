"""The session index: what cleanup learns from lifecycle and asset events, applied once each."""

import logging
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from intake_cleanup import domain
from intake_cleanup.ports import IndexDatabase
from intake_contracts.envelope import Envelope
from intake_contracts.events import (
    STATUS_EVENT,
    AssetCreated,
    AssetIntegrityFailed,
    AssetPromoted,
    EventType,
    UploadLifecycleEvent,
)

log = logging.getLogger(__name__)

_LIFECYCLE_TYPES = frozenset(STATUS_EVENT.values())
_ASSET_TYPES = frozenset(
    {EventType.ASSET_CREATED, EventType.ASSET_PROMOTED, EventType.ASSET_INTEGRITY_FAILED}
)


class SessionIndex:
    def __init__(self, database: IndexDatabase) -> None:
        self._db = database

    async def apply(self, envelopes: Sequence[Envelope]) -> int:
        """Apply a batch of events in one transaction; returns how many were new to the index.

        A batch, not one event at a time: on first start the whole topic history is replayed.
        """
        lifecycle = [e for e in envelopes if e.type in _LIFECYCLE_TYPES]
        assets = [_asset_seen(e) for e in envelopes if e.type in _ASSET_TYPES]
        async with self._db.transaction() as index:
            fresh = await index.claim_events([e.message_id for e in lifecycle])
            updates = _unseen(lifecycle, fresh)
            await index.upsert_sessions(updates)
            # Recording an asset is idempotent by itself (keyed by session): no claim needed.
            await index.record_assets(assets)
        return len(updates) + len(assets)


def _asset_seen(envelope: Envelope) -> tuple[UUID, UUID, str, bool]:
    """(session, asset, tenant, promoted) of an asset event. An Asset failing integrity counts
    as promoted here: its promotion is over (it never will be), so reconcile leaves it alone and
    its temp object is residue like a promoted one's."""
    if envelope.type == EventType.ASSET_INTEGRITY_FAILED:
        failed = AssetIntegrityFailed.model_validate(envelope.payload)
        return failed.upload_session_id, failed.asset_id, failed.tenant_id, True
    if envelope.type == EventType.ASSET_PROMOTED:
        promoted = AssetPromoted.model_validate(envelope.payload)
        return promoted.upload_session_id, promoted.asset_id, promoted.tenant_id, True
    created = AssetCreated.model_validate(envelope.payload)
    return (
        created.upload_session_id,
        created.asset_id,
        created.tenant_id,
        domain.promoted_at_creation(created.object_key),
    )


def _unseen(
    envelopes: Sequence[Envelope], fresh: set[UUID]
) -> list[tuple[UploadLifecycleEvent, datetime]]:
    """Each fresh event once, in arrival order, even when a batch holds a duplicate."""
    updates = []
    for envelope in envelopes:
        if envelope.message_id in fresh:
            fresh.discard(envelope.message_id)
            event = UploadLifecycleEvent.model_validate(envelope.payload)
            updates.append((event, envelope.occurred_at))
    return updates
