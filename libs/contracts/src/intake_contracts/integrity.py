"""Checksum algorithms a session may declare, and how S3 spells their values and headers.

A checksum is the base64 of the digest's big-endian bytes, as S3 writes it in
`x-amz-checksum-<algorithm>`. SHA256 is verified by every S3 we support; CRC32C and
CRC64NVME only where the operator says the store verifies them (initiation's settings).
"""

import base64
import binascii
from enum import StrEnum
from typing import Annotated, Final

from pydantic import StringConstraints


class ChecksumAlgorithm(StrEnum):
    SHA256 = "SHA256"
    CRC32C = "CRC32C"
    CRC64NVME = "CRC64NVME"


class ChecksumType(StrEnum):
    """How S3 checksums a multipart object: FULL_OBJECT, the whole file's own checksum (CRCs
    only); COMPOSITE, a checksum of the parts' checksums, written `<base64>-<part count>`."""

    FULL_OBJECT = "FULL_OBJECT"
    COMPOSITE = "COMPOSITE"


# The type a session's multipart upload is opened with: S3 computes a SHA-256 only as
# COMPOSITE, whose CompleteMultipartUpload must name every part's checksum.
MULTIPART_CHECKSUM_TYPE: Final = {
    ChecksumAlgorithm.SHA256: ChecksumType.COMPOSITE,
    ChecksumAlgorithm.CRC32C: ChecksumType.FULL_OBJECT,
    ChecksumAlgorithm.CRC64NVME: ChecksumType.FULL_OBJECT,
}

# Digest length in bytes of each algorithm.
DIGEST_BYTES: Final = {
    ChecksumAlgorithm.SHA256: 32,
    ChecksumAlgorithm.CRC32C: 4,
    ChecksumAlgorithm.CRC64NVME: 8,
}

# Base64 of up to 32 bytes; the exact length for the declared algorithm is checked by
# `is_valid_checksum`, which knows the algorithm.
Base64Checksum = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{6,43}={0,2}$")]


def header_name(algorithm: ChecksumAlgorithm) -> str:
    """The request header S3 verifies a body against, e.g. `x-amz-checksum-sha256`."""
    return f"x-amz-checksum-{algorithm.value.lower()}"


def is_valid_checksum(algorithm: ChecksumAlgorithm, checksum: str) -> bool:
    """Is `checksum` the base64 of a digest of `algorithm`'s length?"""
    try:
        digest = base64.b64decode(checksum, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(digest) == DIGEST_BYTES[algorithm]


def sha256_hex_to_base64(hex_digest: str) -> str:
    """`checksum_sha256` (hex, as initiate takes it) spelled as S3 spells a SHA-256."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()
