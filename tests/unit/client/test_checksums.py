"""Per-part SHA-256 of the client: the digests S3 verifies, hashed ahead on a thread."""

import asyncio
import base64
import hashlib
import os
from pathlib import Path

import pytest

from intake_client.checksums import PartChecksums
from intake_client.digests import sha256_hex_of, sha256_of
from intake_client.plan import plan_parts

MiB = 1024 * 1024


def b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_a_ranges_digest_is_s3s_spelling_of_its_sha256(tmp_path: Path) -> None:
    data = os.urandom(5 * MiB + 3)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert sha256_of(path, MiB, 4 * MiB + 1) == b64(data[MiB : 5 * MiB + 1])
    assert sha256_hex_of(path, len(data)) == hashlib.sha256(data).hexdigest()
    with pytest.raises(OSError, match="ended"):
        sha256_of(path, len(data) - 1, 2)


async def test_every_parts_checksum_comes_in_any_order_and_the_known_are_kept(
    tmp_path: Path,
) -> None:
    data = os.urandom(3 * MiB + 10)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    parts = plan_parts(len(data), MiB, 4)
    checksums = PartChecksums(path, parts, known={1: "seeded"})
    assert checksums.ready(1) == "seeded"
    assert await checksums.of(4) == b64(data[3 * MiB :])
    assert await checksums.of(2) == b64(data[MiB : 2 * MiB])
    assert await checksums.of(1) == "seeded"  # computed before: not hashed again
    assert checksums.ready(3) == b64(data[2 * MiB : 3 * MiB])
    assert await checksums.again(parts[0]) == b64(data[:MiB])
    checksums.close()


async def test_a_file_that_shrank_fails_every_waiting_part(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(MiB))
    parts = plan_parts(3 * MiB, MiB, 3)  # planned for a larger file
    checksums = PartChecksums(path, parts)
    with pytest.raises(OSError, match="ended"):
        await asyncio.wait_for(checksums.of(3), timeout=10)
