"""What the object store's calls take and return, and the checksums S3 keeps with an object."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any


@dataclass(frozen=True)
class ObjectHead:
    """An object's metadata; the checksum fields only when asked for and S3 stored one."""

    size: int
    content_type: str | None
    etag: str
    last_modified: datetime | None
    checksum_sha256: str | None
    checksum_type: str | None
    # Every checksum S3 stored, by algorithm ("SHA256", "CRC32C", ...), as S3 spells it.
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredPart:
    part_number: int
    size: int
    etag: str
    # The part's checksums S3 reports, by algorithm, as S3 spells them (AWS lists them for an
    # upload opened with an algorithm; SeaweedFS lists none).
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CopiedPart:
    part_number: int
    etag: str


@dataclass(frozen=True)
class MultipartUpload:
    key: str
    upload_id: str
    initiated: datetime


@dataclass(frozen=True)
class OpenedUpload:
    key: str
    upload_id: str


@dataclass(frozen=True)
class CompletedUpload:
    key: str
    etag: str


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class DeleteFailure:
    """A key DeleteObjects did not delete: S3's code for it, or the error of its request."""

    key: str
    code: str
    detail: str


# Checksums S3 may store with an object, by the name S3 gives the algorithm.
CHECKSUM_ALGORITHMS = ("SHA256", "CRC32C", "CRC64NVME", "CRC32", "SHA1")


def checksum_headers(checksum: tuple[str, str] | None) -> dict[str, str]:
    """The header that makes S3 verify a body: {"x-amz-checksum-sha256": value}, or none."""
    if checksum is None:
        return {}
    algorithm, value = checksum
    return {f"x-amz-checksum-{algorithm.lower()}": value}


def checksums_of(fields: Mapping[str, Any]) -> dict[str, str]:
    """The checksums in an S3 answer's fields (`ChecksumSHA256`, ...), by algorithm."""
    return {
        name: str(fields[f"Checksum{name}"])
        for name in CHECKSUM_ALGORITHMS
        if fields.get(f"Checksum{name}")
    }


def head_of(headers: Mapping[str, str]) -> ObjectHead:
    """An ObjectHead from a HEAD answer's headers, as botocore would have parsed them."""
    modified = headers.get("Last-Modified")
    return ObjectHead(
        size=int(headers.get("Content-Length", "0")),
        content_type=headers.get("Content-Type"),
        etag=unquoted(headers.get("ETag", "")),
        last_modified=parsedate_to_datetime(modified) if modified else None,
        checksum_sha256=headers.get("x-amz-checksum-sha256"),
        checksum_type=headers.get("x-amz-checksum-type"),
        checksums={
            name: headers[f"x-amz-checksum-{name.lower()}"]
            for name in CHECKSUM_ALGORITHMS
            if headers.get(f"x-amz-checksum-{name.lower()}")
        },
    )


def unquoted(etag: Any) -> str:
    return str(etag).strip('"')
