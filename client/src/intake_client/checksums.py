"""Per-part checksums, hashed on a thread ahead of the PUTs that need them.

One thread hashes a file's parts in order while the loop keeps sending; a part is read twice
(once here, once by sendfile), the second time from the page cache.
"""

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from pathlib import Path

from intake_client.digests import checksum_of
from intake_client.plan import Part


class PartChecksums:
    """The checksums of one file's parts, hashed in order on a thread of their own from the
    first `of` on; `known` seeds those computed before (the parts presigned ahead)."""

    def __init__(
        self,
        path: Path,
        parts: Sequence[Part],
        algorithm: str,
        known: dict[int, str] | None = None,
    ) -> None:
        self._path, self._parts, self.algorithm = path, list(parts), algorithm
        self._done: dict[int, str] = dict(known or {})
        self._waiting: dict[int, asyncio.Future[str]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None

    def ready(self, number: int) -> str | None:
        """The part's checksum if already hashed."""
        return self._done.get(number)

    async def of(self, number: int) -> str:
        """The part's checksum, waiting for the hashing thread to reach it."""
        if number in self._done:
            return self._done[number]
        if self._failure is not None:
            raise self._failure
        self._start()
        future = self._waiting.get(number)
        if future is None:
            future = self._waiting[number] = asyncio.get_running_loop().create_future()
        return await asyncio.shield(future)

    async def each(self, parts: Sequence[Part]) -> dict[int, str]:
        """Every part's checksum, by part number, as complete names them: those hashed for
        sending, the others (parts an earlier run sent) read from the file now, on a thread.

        Raises:
            OSError: the file could not be read, or ended early (it changed).
        """
        known = dict(self._done)
        missing = [part for part in parts if part.number not in known]
        known |= await asyncio.to_thread(self._hash, missing)
        return {part.number: known[part.number] for part in parts}

    def _hash(self, parts: Sequence[Part]) -> dict[int, str]:
        return {p.number: checksum_of(self._path, p.offset, p.size, self.algorithm) for p in parts}

    async def again(self, part: Part) -> str:
        """The part hashed afresh from disk (after S3 refused its bytes)."""
        return await asyncio.to_thread(
            checksum_of, self._path, part.offset, part.size, self.algorithm
        )

    def close(self) -> None:
        self._stop.set()

    def _start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._hash_all, name="part-checksums", daemon=True)
        self._thread.start()

    def _hash_all(self) -> None:
        for part in self._parts:
            if self._stop.is_set():
                return
            if part.number in self._done:
                continue
            try:
                checksum = checksum_of(self._path, part.offset, part.size, self.algorithm)
            except OSError as error:
                self._post(self._failed, error)
                return
            self._post(self._hashed, part.number, checksum)

    def _post(self, callback: object, *args: object) -> None:
        assert self._loop is not None  # noqa: S101 - set before the thread starts
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            self._loop.call_soon_threadsafe(callback, *args)  # type: ignore[arg-type]

    def _hashed(self, number: int, checksum: str) -> None:
        self._done[number] = checksum
        future = self._waiting.pop(number, None)
        if future is not None and not future.done():
            future.set_result(checksum)

    def _failed(self, error: BaseException) -> None:
        self._failure = error
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self._waiting.clear()
