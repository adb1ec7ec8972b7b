"""Terminal output of `intake upload`: one rich progress bar per file, one line per result."""

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from intake_client.progress import FileProgress
    from intake_client.results import FileResult


class UploadBars:
    """Bars on stderr, so stdout stays clean for --json.

    rich is imported and the bars drawn at the first progress event, which comes after the
    upload's first request: its import (a few hundred milliseconds) then no longer delays it.
    """

    def __init__(self, paths: list[Path], *, enabled: bool = True) -> None:
        self._paths = list(dict.fromkeys(paths))
        self._enabled = enabled
        self._entered = False
        self._progress: Progress | None = None
        self._tasks: dict[Path, TaskID] = {}

    def update(self, event: "FileProgress") -> None:
        progress = self._drawn()
        task = self._tasks.get(event.path)
        if progress is not None and task is not None:
            progress.update(task, completed=event.sent, phase=event.phase)

    def _drawn(self) -> "Progress | None":
        if self._progress is None and self._enabled and self._entered:
            self._progress = _bars()
            for path in self._paths:
                size = path.stat().st_size if path.is_file() else 0
                self._tasks[path] = self._progress.add_task(
                    "", total=size, name=path.name, phase="waiting"
                )
            self._progress.start()
        return self._progress

    def __enter__(self) -> Self:
        self._entered = True
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._entered = False
        if self._progress is not None:
            self._progress.stop()


def _bars() -> "Progress":
    # Imported here, on first use: see UploadBars.
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.fields[name]}", style="bold"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[phase]}"),
        console=Console(stderr=True),
    )


def summary_line(result: "FileResult") -> str:
    if result.status != "completed":
        return f"error: {result.path}: {result.error}"
    asset_id = (result.asset or {}).get("asset_id")
    resumed = (
        f", resumed with {result.parts_skipped} parts already stored" if result.resumed else ""
    )
    return (
        f"ok: {result.path} -> asset {asset_id} (session {result.upload_session_id}, "
        f"{result.parts_sent}/{result.parts_total} parts sent{resumed})"
    )
