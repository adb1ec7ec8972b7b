"""Lifecycle events as the services emit them, for tests that need one whose details do not
matter (a direct upload's, of a fresh session unless one is given)."""

import uuid
from datetime import datetime, timedelta

from intake_contracts import keys
from intake_contracts.events import UploadLifecycleEvent
from intake_contracts.sessions import UploadStatus, UploadType
from tests.support.contracts.common import NOW


def lifecycle_event(
    session_id: uuid.UUID | None = None,
    tenant_id: str = "t1",
    status: UploadStatus = UploadStatus.CANCELLED,
    *,
    expires_at: datetime = NOW + timedelta(hours=1),
    asset_id: uuid.UUID | None = None,
) -> UploadLifecycleEvent:
    session_id = session_id or uuid.uuid4()
    return UploadLifecycleEvent(
        upload_session_id=session_id,
        tenant_id=tenant_id,
        brand_id="b",
        user_id="u",
        status=status,
        previous_status=None,
        upload_type=UploadType.DIRECT,
        file_name="a.txt",
        size_bytes=5,
        bucket="intake-contract",
        temp_key=keys.temp_key(session_id),
        multipart_upload_id=None,
        expires_at=expires_at,
        asset_id=asset_id,
    )
