"""What a caller hands the UploadManager and what it gets back for each file.

No dataclasses here: `intake upload` builds these before its first request, and importing
dataclasses and building its classes would cost that request ~30 ms (cli.py).
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from intake_client.errors import IntakeApiError, IntakeError

if TYPE_CHECKING:
    from intake_client.progress import FileCallback, PartCallback


class UploadOptions(NamedTuple):
    brand_id: str
    parallel: int = 4
    title: str | None = None
    batch_reference: str | None = None
    on_part: "PartCallback | None" = None
    on_file: "FileCallback | None" = None
    limit_rate: float | None = None  # bytes per second across all files; None = unlimited
    # Declared at initiate ("CRC32C" or "SHA256"; None declares none): S3 then refuses any
    # part whose bytes are not the ones hashed here.
    checksum_algorithm: str | None = "CRC32C"


class FileResult:
    """One file's outcome; `parts_sent` counts only what this run put into S3."""

    def __init__(
        self,
        path: Path,
        size: int = 0,
        upload_session_id: str | None = None,
        status: str = "pending",
        *,
        resumed: bool = False,
        asset: dict[str, Any] | None = None,
        error: IntakeError | OSError | None = None,
    ) -> None:
        self.path, self.size = path, size
        self.upload_session_id = upload_session_id
        self.status = status  # "completed" or "failed" once done
        self.resumed = resumed
        self.asset = asset
        self.parts_total = self.parts_sent = self.parts_skipped = 0
        self.resigned = self.retries = 0
        self.resent_for_digest = 0  # parts S3 refused for a bad digest and got again
        self.transfer_s = self.complete_s = 0.0
        self.error = error

    def __repr__(self) -> str:
        return f"FileResult({self.path!s}, status={self.status!r}, error={self.error!r})"

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in {"path", "error"}}
        data["path"] = str(self.path)
        data["error"] = str(self.error) if self.error else None
        if isinstance(self.error, IntakeApiError):
            data["error_code"] = self.error.code
        return data
