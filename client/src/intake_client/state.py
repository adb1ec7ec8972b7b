"""The resume state file: which upload session each local file belongs to.

A small JSON document keyed by gateway URL and absolute file path. Every change is a locked
read-modify-write replaced atomically, so a SIGKILL never leaves a torn file and two `intake`
processes never lose each other's entries.
"""

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

DEFAULT_STATE_FILE = Path("~/.intake/uploads.json")
VERSION = 1
_NO_PARTS: Mapping[str, str] = MappingProxyType({})


# A NamedTuple, not a dataclass: `intake upload` reads entries before its first request, and
# importing dataclasses and building its classes would cost that request ~30 ms (cli.py).
class StateEntry(NamedTuple):
    """What a rerun needs to find its session again and to tell whether the file changed."""

    upload_session_id: str
    path: str
    size: int
    mtime_ns: int
    upload_type: str
    chunk_size: int | None = None
    part_count: int | None = None
    # part number (as str: JSON keys) → ETag of parts this client saw S3 accept.
    parts_done: Mapping[str, str] = _NO_PARTS
    checksum_algorithm: str | None = None  # declared at initiate: every part URL needs one

    def matches(self, size: int, mtime_ns: int) -> bool:
        return self.size == size and self.mtime_ns == mtime_ns

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "StateEntry":
        return cls(**{k: v for k, v in data.items() if k in cls._fields})

    def to_json(self) -> dict[str, Any]:
        return {**self._asdict(), "parts_done": dict(self.parts_done)}


def entry_key(base_url: str, path: Path) -> str:
    return f"{base_url.rstrip('/')} {path.resolve()}"


class StateFile:
    def __init__(self, path: Path | None = None) -> None:
        self.path = (path or DEFAULT_STATE_FILE).expanduser()
        self._thread_lock = threading.Lock()

    def get(self, key: str) -> StateEntry | None:
        raw = self._read().get(key)
        return StateEntry.from_json(raw) if isinstance(raw, dict) else None

    def put(self, key: str, entry: StateEntry) -> None:
        self._update(lambda entries: entries.__setitem__(key, entry.to_json()))

    def remove(self, key: str) -> None:
        self._update(lambda entries: entries.pop(key, None))

    def record_part(self, key: str, part_number: int, etag: str) -> None:
        def change(entries: dict[str, Any]) -> None:
            if isinstance(entries.get(key), dict):
                entries[key].setdefault("parts_done", {})[str(part_number)] = etag

        self._update(change)

    def entries(self) -> dict[str, StateEntry]:
        return {k: StateEntry.from_json(v) for k, v in self._read().items() if isinstance(v, dict)}

    def _read(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable state only costs a fresh upload, never a crash
        uploads = document.get("uploads") if isinstance(document, dict) else None
        return uploads if isinstance(uploads, dict) else {}

    def _update(self, change: Callable[[dict[str, Any]], object]) -> None:
        with self._locked():
            entries = self._read()
            change(entries)
            self._write({"version": VERSION, "uploads": entries})

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with self._thread_lock, lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, document: dict[str, Any]) -> None:
        import tempfile  # noqa: PLC0415 - shutil, random, bz2, lzma: only when a state is written

        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".uploads-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(document, out, indent=1, sort_keys=True)
            Path(tmp).replace(self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
