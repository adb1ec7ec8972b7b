"""Pure rules of completion: which parts complete an upload, sizes, title, access. No I/O.

The checksum rules are in integrity.py."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pydantic import ConfigDict

from intake_contracts.commands import AssetFields, CompletedPart
from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.integrity import ChecksumAlgorithm

MiB: Final = 1024 * 1024
MIN_PART_SIZE: Final = 5 * MiB
MAX_TITLE_LENGTH: Final = 255
_SHOWN: Final = 10  # part numbers named in one error detail


class Asset(AssetFields):
    """The Asset as completion keeps it: the fields every message shows, who uploaded it, and
    when it was recorded and promoted."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    created_at: datetime | None  # None until the row is written
    promoted_at: datetime | None = None  # set when object_key became the permanent key
    # Set when promotion found the temp object changed since complete checked it.
    integrity_failed_at: datetime | None = None


@dataclass(frozen=True)
class CheckedObject:
    """The object complete checked: its ETag, and its checksum in the declared algorithm (see
    `checked_checksum`)."""

    etag: str
    checksum_algorithm: ChecksumAlgorithm | None = None
    checksum: str | None = None


class TempObjectChangedError(Exception):
    """The temp object is not the one complete checked (another ETag, or gone): S3 refused
    the copy's CopySourceIfMatch and nothing was written at the permanent key."""

    def __init__(self, found_etag: str | None) -> None:
        super().__init__(f"the temp object changed after complete (now {found_etag})")
        self.found_etag = found_etag


@dataclass(frozen=True)
class UploadedPart:
    """A part as S3's ListParts reports it; `checksum` in the session's algorithm, where S3
    lists one (AWS does, SeaweedFS does not)."""

    number: int
    size: int
    etag: str
    checksum: str | None = None


def parts_to_complete(
    uploaded: Sequence[UploadedPart],
    requested: Sequence[CompletedPart] | None,
    part_count: int,
    size_bytes: int,
) -> list[tuple[int, str]]:
    """The (part number, etag) list for CompleteMultipartUpload, checked before S3 sees it.

    The parts must be exactly 1..part_count; checking here, not in S3, keeps a refused
    completion from consuming the multipart upload, so the client can still fix it.

    Raises:
        DomainError: parts_invalid (the client's list is wrong), upload_incomplete (a part
            was never uploaded) or size_mismatch (the parts do not add up to the file).
    """
    by_number = {part.number: part for part in uploaded}
    expected = range(1, part_count + 1)
    if requested:
        _check_requested(requested, by_number, part_count)
    else:
        _check_uploaded(by_number, part_count)
    chosen = [by_number[number] for number in expected]
    _check_sizes(chosen, size_bytes)
    return [(part.number, part.etag) for part in chosen]


def _check_requested(
    requested: Sequence[CompletedPart], uploaded: dict[int, UploadedPart], part_count: int
) -> None:
    numbers = [part.part_number for part in requested]
    twice = sorted(number for number, seen in Counter(numbers).items() if seen > 1)
    if twice:
        raise DomainError(
            ErrorCode.PARTS_INVALID, f"parts listed more than once: {few_numbers(twice)}"
        )
    missing, extra = _difference(set(numbers), part_count)
    if missing or extra:
        raise DomainError(
            ErrorCode.PARTS_INVALID,
            f"parts must be exactly 1..{part_count}; missing {few_numbers(missing)},"
            f" outside the range {few_numbers(extra)}",
        )
    not_uploaded = sorted(number for number in numbers if number not in uploaded)
    if not_uploaded:
        raise DomainError(
            ErrorCode.UPLOAD_INCOMPLETE, f"parts not uploaded: {few_numbers(not_uploaded)}"
        )
    stale = sorted(
        part.part_number
        for part in requested
        if normal_etag(part.etag) != normal_etag(uploaded[part.part_number].etag)
    )
    if stale:
        raise DomainError(
            ErrorCode.PARTS_INVALID, f"etags do not match the uploaded parts: {few_numbers(stale)}"
        )


def _check_uploaded(uploaded: dict[int, UploadedPart], part_count: int) -> None:
    missing, extra = _difference(set(uploaded), part_count)
    if extra:
        raise DomainError(
            ErrorCode.PARTS_INVALID,
            f"parts outside 1..{part_count} were uploaded: {few_numbers(extra)}",
        )
    if missing:
        raise DomainError(
            ErrorCode.UPLOAD_INCOMPLETE,
            f"{len(missing)} of {part_count} parts not uploaded: {few_numbers(missing)}",
        )


def _check_sizes(parts: Sequence[UploadedPart], size_bytes: int) -> None:
    total = sum(part.size for part in parts)
    if total != size_bytes:
        raise DomainError(
            ErrorCode.SIZE_MISMATCH,
            f"uploaded parts hold {total} bytes, the upload declared {size_bytes}",
        )
    small = [part.number for part in parts[:-1] if part.size < MIN_PART_SIZE]
    if small:
        raise DomainError(
            ErrorCode.PARTS_INVALID,
            f"parts other than the last are under 5 MiB: {few_numbers(small)}",
        )


def _difference(numbers: set[int], part_count: int) -> tuple[list[int], list[int]]:
    expected = set(range(1, part_count + 1))
    return sorted(expected - numbers), sorted(numbers - expected)


def few_numbers(numbers: Sequence[int]) -> str:
    """The first part numbers of a list, for an error's detail."""
    shown = ", ".join(str(number) for number in numbers[:_SHOWN])
    more = f" and {len(numbers) - _SHOWN} more" if len(numbers) > _SHOWN else ""
    return f"[{shown}{more}]"


def normal_etag(etag: str) -> str:
    """S3 quotes etags and clients may not: compare them bare and case-insensitively."""
    return etag.strip().strip('"').lower()


def check_size(stored_bytes: int, declared_bytes: int) -> None:
    if stored_bytes != declared_bytes:
        raise DomainError(
            ErrorCode.SIZE_MISMATCH,
            f"the uploaded object holds {stored_bytes} bytes, the upload declared {declared_bytes}",
        )


def check_title(title: str | None) -> None:
    """Checked before anything changes: a bad title must not strand a COMPLETED session."""
    if title is not None and len(title.strip()) > MAX_TITLE_LENGTH:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, f"title must be at most {MAX_TITLE_LENGTH} characters"
        )


def title_for(title: str | None, file_name: str) -> str:
    """The client's title, or the file name when none (or only blanks) was given."""
    return (title or "").strip() or file_name[:MAX_TITLE_LENGTH]


def acting_as(principal: Principal, service: str) -> Principal:
    """The caller's identity, with `service` vouching for the command (initiation requires it)."""
    return principal.model_copy(update={"service": service})
