"""The session index applying lifecycle and asset events once each, in one transaction."""

import uuid

from intake_cleanup.index import SessionIndex
from intake_contracts import keys
from intake_contracts.envelope import Envelope
from intake_contracts.events import (
    STATUS_EVENT,
    AssetIntegrityFailed,
    AssetPromoted,
    EventType,
)
from intake_contracts.sessions import UploadStatus
from tests.support.cleanup import (
    World,
    completed,
)
from tests.support.contracts.common import NOW
from tests.support.events import lifecycle_event


def _envelope(event_type: EventType, payload: object, message_id: uuid.UUID) -> Envelope:
    return Envelope(
        message_id=message_id,
        type=event_type,
        correlation_id="c",
        occurred_at=NOW,
        payload=payload.model_dump(mode="json"),  # type: ignore[attr-defined]
    )


async def test_the_index_applies_each_event_once_and_records_assets(world: World) -> None:
    sid, message = uuid.uuid4(), uuid.uuid4()
    event = lifecycle_event(sid, "t1", UploadStatus.UPLOADING)
    uploading = _envelope(STATUS_EVENT[UploadStatus.UPLOADING], event, message)
    index = SessionIndex(world.db)
    assert await index.apply([uploading, uploading]) == 1
    assert await index.apply([uploading]) == 0  # redelivered: nothing new
    asset_id = keys.asset_id_for(sid)
    promoted = AssetPromoted(
        **completed(world.session(), promoted=True).asset.model_dump(
            include=set(AssetPromoted.model_fields) - {"previous_key"}
        )
        | {"upload_session_id": sid, "asset_id": asset_id},
        previous_key=keys.temp_key(sid),
    )
    assert await index.apply([_envelope(EventType.ASSET_PROMOTED, promoted, uuid.uuid4())]) == 1
    assert world.db.index.rows[sid].session.status == UploadStatus.UPLOADING
    assert world.db.index.assets[sid] == (asset_id, "t1", True)


async def test_an_asset_failing_integrity_ends_its_promotion_for_the_index(world: World) -> None:
    sid = uuid.uuid4()
    failed = AssetIntegrityFailed(
        asset_id=keys.asset_id_for(sid),
        upload_session_id=sid,
        tenant_id="t1",
        bucket="b",
        object_key=keys.temp_key(sid),
        expected_etag="a",
        found_etag="b",
        failed_at=NOW,
    )
    index = SessionIndex(world.db)
    assert await index.apply([_envelope(EventType.ASSET_INTEGRITY_FAILED, failed, uuid.uuid4())])
    assert world.db.index.assets[sid] == (keys.asset_id_for(sid), "t1", True)
