"""SHA-256 of a file range as S3 spells it (base64): what a part URL signs, so S3 verifies
the part's bytes. hashlib's SHA-256 is OpenSSL's (SHA-NI where the CPU has it). Standard
library only, and no asyncio: initiate computes a small file's digest before the first request.
"""

import base64
import hashlib
from pathlib import Path
from typing import Final

ALGORITHM: Final = "SHA256"
_BLOCK = 4 * 1024 * 1024


def sha256_of(path: Path, offset: int, size: int) -> str:
    """The base64 SHA-256 of bytes [offset, offset+size) of `path`, as S3 spells it. Blocks.

    Raises:
        OSError: the file could not be read, or ended early (it changed).
    """
    digest = hashlib.sha256()
    buffer = bytearray(min(_BLOCK, max(size, 1)))
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as source:
        source.seek(offset)
        remaining = size
        while remaining > 0:
            count = source.readinto(view[: min(len(buffer), remaining)])
            if not count:
                raise OSError(f"{path} ended {remaining} bytes early: the file changed")
            digest.update(view[:count])
            remaining -= count
    return base64.b64encode(digest.digest()).decode()


def sha256_hex_of(path: Path, size: int) -> str:
    """The whole file's SHA-256 in hex (initiate's `checksum_sha256`). Blocks."""
    return base64.b64decode(sha256_of(path, 0, size)).hex()
