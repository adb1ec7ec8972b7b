"""What a caller hands the UploadManager and what it gets back for each file."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intake_client.errors import IntakeApiError, IntakeError
from intake_client.progress import FileCallback, PartCallback


@dataclass(frozen=True)
class UploadOptions:
    brand_id: str
    parallel: int = 4
    title: str | None = None
    batch_reference: str | None = None
    on_part: PartCallback | None = None
    on_file: FileCallback | None = None
    limit_rate: float | None = None  # bytes per second across all files; None = unlimited


@dataclass
class FileResult:
    """One file's outcome; `parts_sent` counts only what this run put into S3."""

    path: Path
    size: int = 0
    upload_session_id: str | None = None
    status: str = "pending"  # "completed" or "failed" once done
    resumed: bool = False
    asset: dict[str, Any] | None = None
    parts_total: int = 0
    parts_sent: int = 0
    parts_skipped: int = 0
    resigned: int = 0
    retries: int = 0
    transfer_s: float = 0.0
    complete_s: float = 0.0
    error: IntakeError | OSError | None = None

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in {"path", "error"}}
        data["path"] = str(self.path)
        data["error"] = str(self.error) if self.error else None
        if isinstance(self.error, IntakeApiError):
            data["error_code"] = self.error.code
        return data
