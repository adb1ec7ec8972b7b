"""Progress events: per part and per file, for bars, logs or tests."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class PartProgress:
    path: Path
    part_number: int
    sent: int
    size: int


@dataclass(frozen=True)
class FileProgress:
    path: Path
    upload_session_id: str | None
    sent: int  # bytes S3 holds or is receiving; drops back only when a part is resent
    total: int
    phase: str  # "uploading", "completing", "completed" or "failed"


PartCallback = Callable[[PartProgress], None]
FileCallback = Callable[[FileProgress], None]


@dataclass
class FileTracker:
    """Bytes of one file: confirmed parts plus what is in flight, reported on every change."""

    path: Path
    total: int
    upload_session_id: str | None = None
    on_file: FileCallback | None = None
    on_part: PartCallback | None = None
    confirmed: int = 0
    in_flight: dict[int, int] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return self.confirmed + sum(self.in_flight.values())

    def part_sent(self, part_number: int, size: int, count: int) -> None:
        done = self.in_flight.get(part_number, 0) + count
        self.in_flight[part_number] = done
        if self.on_part:
            self.on_part(PartProgress(self.path, part_number, done, size))
        self.phase("uploading")

    def part_done(self, part_number: int, size: int) -> None:
        # In-flight bytes become confirmed ones: the total never dips in between.
        self.in_flight.pop(part_number, None)
        self.confirmed += size

    def part_reset(self, part_number: int) -> None:
        # A failed attempt's bytes are not in S3; the part starts over.
        if self.in_flight.pop(part_number, 0):
            self.phase("uploading")

    def phase(self, name: str) -> None:
        if self.on_file:
            self.on_file(
                FileProgress(self.path, self.upload_session_id, self.sent, self.total, name)
            )
