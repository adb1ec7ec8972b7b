"""Checksums of a file range as S3 spells them (base64): what a part or direct URL signs, so S3
verifies the bytes it receives. No asyncio: initiate computes a small file's checksum before
the first request.

CRC32C is the default. It is what S3 verifies cheapest on both ends: google-crc32c hashes at
several GB/s where hashlib's SHA-256 manages about one, and the store checks a CRC32C faster
than a SHA-256 too. A CRC32C multipart upload is FULL_OBJECT, so S3 also reports the whole
object's CRC32C at complete (a SHA-256 one is COMPOSITE, see docs/architecture.md
"Integrity"). SHA256 stays available for those who want a cryptographic digest.
"""

import base64
import hashlib
from pathlib import Path
from typing import Final, Protocol

CRC32C: Final = "CRC32C"
SHA256: Final = "SHA256"
ALGORITHMS: Final = (CRC32C, SHA256)
DEFAULT_ALGORITHM: Final = CRC32C
# The header a URL signed the checksum in, as S3 names it.
HEADERS: Final = {algorithm: f"x-amz-checksum-{algorithm.lower()}" for algorithm in ALGORITHMS}
_BLOCK = 4 * 1024 * 1024


class _Running(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


def _running(algorithm: str) -> _Running:
    if algorithm == SHA256:
        return hashlib.sha256()
    if algorithm == CRC32C:
        import google_crc32c  # noqa: PLC0415 - loaded only by a run that hashes

        checksum: _Running = google_crc32c.Checksum()  # type: ignore[no-untyped-call]
        return checksum
    raise ValueError(f"unknown checksum algorithm {algorithm!r}; use one of {ALGORITHMS}")


def checksum_of(path: Path, offset: int, size: int, algorithm: str = DEFAULT_ALGORITHM) -> str:
    """The base64 checksum of bytes [offset, offset+size) of `path` in `algorithm`. Blocks.

    Raises:
        OSError: the file could not be read, or ended early (it changed).
    """
    running = _running(algorithm)
    with path.open("rb", buffering=0) as source:
        source.seek(offset)
        remaining = size
        while remaining > 0:
            # bytes, not a reused buffer: google-crc32c takes read-only buffers only.
            block = source.read(min(_BLOCK, remaining))
            if not block:
                raise OSError(f"{path} ended {remaining} bytes early: the file changed")
            running.update(block)
            remaining -= len(block)
    return base64.b64encode(running.digest()).decode()


def sha256_hex_of(path: Path, size: int) -> str:
    """The whole file's SHA-256 in hex (initiate's `checksum_sha256`). Blocks."""
    return base64.b64decode(checksum_of(path, 0, size, SHA256)).hex()
