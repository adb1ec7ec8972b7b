"""Terminal output of `intake upload`: one rich progress bar per file, one line per result."""

from pathlib import Path
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from intake_client.progress import FileProgress
from intake_client.results import FileResult


class UploadBars:
    """Bars on stderr, so stdout stays clean for --json."""

    def __init__(self, paths: list[Path], *, enabled: bool = True) -> None:
        self._progress = Progress(
            TextColumn("{task.fields[name]}", style="bold"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[phase]}"),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self._tasks: dict[Path, TaskID] = {}
        for path in dict.fromkeys(paths):
            size = path.stat().st_size if path.is_file() else 0
            self._tasks[path] = self._progress.add_task(
                "", total=size, name=path.name, phase="waiting"
            )

    def update(self, event: FileProgress) -> None:
        task = self._tasks.get(event.path)
        if task is not None:
            self._progress.update(task, completed=event.sent, phase=event.phase)

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()


def summary_line(result: FileResult) -> str:
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
