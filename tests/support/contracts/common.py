"""What every contract suite shares: the fixed time its records are made at, the live statuses."""

from datetime import UTC, datetime

from intake_contracts.sessions import (
    UploadStatus,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


LIVE = [UploadStatus.INITIATING, UploadStatus.UPLOADING]
