"""Per-part checksums of the client (CRC32C by default, SHA256 on request): what S3 verifies,
hashed ahead on a thread."""

import asyncio
import base64
import hashlib
import os
from pathlib import Path

import google_crc32c
import pytest

from intake_client.checksums import PartChecksums
from intake_client.digests import CRC32C, SHA256, checksum_of, sha256_hex_of
from intake_client.plan import plan_parts

MiB = 1024 * 1024


def b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def crc32c_b64(data: bytes) -> str:
    """CRC32C bit by bit (Castagnoli, reflected 0x82F63B78): the reference, not the library."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return base64.b64encode((crc ^ 0xFFFFFFFF).to_bytes(4, "big")).decode()


def test_the_reference_crc32c_gives_the_standards_check_value() -> None:
    assert base64.b64decode(crc32c_b64(b"123456789")).hex() == "e3069283"  # RFC 3720, B.4


@pytest.mark.parametrize("algorithm", [SHA256, CRC32C])
def test_a_ranges_checksum_is_s3s_spelling_of_its_digest(tmp_path: Path, algorithm: str) -> None:
    data = os.urandom(5 * MiB + 3)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    # Crosses the 4 MiB read block, so a digest carried across reads is checked too.
    expected = b64 if algorithm == SHA256 else crc32c_b64
    small = data[4 * MiB - 5 : 4 * MiB + 7]
    assert checksum_of(path, 4 * MiB - 5, 12, algorithm) == expected(small)
    if algorithm == SHA256:  # the bit-by-bit reference is too slow for megabytes
        assert checksum_of(path, MiB, 4 * MiB + 1, algorithm) == b64(data[MiB : 5 * MiB + 1])
    with pytest.raises(OSError, match="ended"):
        checksum_of(path, len(data) - 1, 2, algorithm)


def test_crc32c_is_carried_across_read_blocks(tmp_path: Path) -> None:
    data = os.urandom(9 * MiB + 1)  # three 4 MiB reads
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    whole = google_crc32c.value(data).to_bytes(4, "big")  # one call over the whole buffer
    assert checksum_of(path, 0, len(data), CRC32C) == base64.b64encode(whole).decode()


def test_the_whole_files_sha256_in_hex(tmp_path: Path) -> None:
    data = os.urandom(MiB + 1)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert sha256_hex_of(path, len(data)) == hashlib.sha256(data).hexdigest()


def test_an_unknown_algorithm_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="MD5"):
        checksum_of(path, 0, 1, "MD5")


async def test_every_parts_checksum_comes_in_any_order_and_the_known_are_kept(
    tmp_path: Path,
) -> None:
    data = os.urandom(3 * MiB + 10)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    parts = plan_parts(len(data), MiB, 4)
    checksums = PartChecksums(path, parts, SHA256, known={1: "seeded"})
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
    checksums = PartChecksums(path, parts, CRC32C)
    with pytest.raises(OSError, match="ended"):
        await asyncio.wait_for(checksums.of(3), timeout=10)


async def test_complete_gets_every_parts_checksum_those_sent_earlier_read_again(
    tmp_path: Path,
) -> None:
    """A resumed run hashed only the parts it sends; the parts an earlier run sent are read
    from the file at complete, the others not hashed twice."""
    data = os.urandom(3 * MiB + 10)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    parts = plan_parts(len(data), MiB, 4)
    checksums = PartChecksums(path, parts[2:], SHA256, known={3: "seeded"})
    assert await checksums.of(4) == b64(data[3 * MiB :])
    assert await checksums.each(parts) == {
        1: b64(data[:MiB]),
        2: b64(data[MiB : 2 * MiB]),
        3: "seeded",
        4: b64(data[3 * MiB :]),
    }
    checksums.close()
