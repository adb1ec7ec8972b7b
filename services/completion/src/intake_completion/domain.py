"""Pure rules of completion: which parts complete an upload, sizes, checksum, title. No I/O."""

import base64
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pydantic import ConfigDict

from intake_contracts.commands import AssetFields, CompletedPart
from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.integrity import (
    MULTIPART_CHECKSUM_TYPE,
    ChecksumAlgorithm,
    ChecksumType,
    is_valid_checksum,
)
from intake_contracts.sessions import SessionRecord

MiB: Final = 1024 * 1024
MIN_PART_SIZE: Final = 5 * MiB
MAX_TITLE_LENGTH: Final = 255
_SHOWN: Final = 10  # part numbers named in one error detail
_PART_COUNT_SUFFIX: Final = re.compile(r"-[0-9]+$")


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


def declared_sha256(session: SessionRecord) -> str | None:
    """The whole file's SHA-256 (hex) the session declared: `checksum_sha256`, or the SHA256
    `checksum` (base64)."""
    if session.checksum_sha256:
        return session.checksum_sha256
    if session.checksum_algorithm == ChecksumAlgorithm.SHA256 and session.checksum:
        return base64.b64decode(session.checksum).hex()
    return None


def checked_checksum(
    algorithm: ChecksumAlgorithm | None,
    declared: str | None,
    stored: str | None,
    stored_type: str | None = None,
) -> str | None:
    """The checksum the Asset records, in the declared algorithm: S3's, which must be the
    declared whole-file checksum when both exist; the declared one where S3 keeps none.

    A COMPOSITE checksum (a SHA256 multipart upload's `<base64>-<part count>`, a checksum of
    the parts' checksums) says nothing comparable to a whole-file digest: the declared SHA-256
    is the one recorded, which `verify_checksum` checks by reading the object back; S3's
    composite value, as S3 spells it, only when none was declared.

    Raises:
        DomainError: checksum_mismatch.
    """
    if algorithm is None:
        return None
    if stored is not None and is_composite(stored, stored_type):
        return declared or stored
    if stored is not None and declared is not None and stored != declared:
        raise DomainError(
            ErrorCode.CHECKSUM_MISMATCH,
            f"S3's {algorithm} of the uploaded object is not the declared checksum",
        )
    return stored or declared


def is_composite(checksum: str, checksum_type: str | None) -> bool:
    """Is S3's object checksum COMPOSITE? S3 says so in its type and in the `-N` suffix."""
    return (
        checksum_type == ChecksumType.COMPOSITE or _PART_COUNT_SUFFIX.search(checksum) is not None
    )


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


def part_checksums(
    algorithm: ChecksumAlgorithm | None,
    uploaded: Sequence[UploadedPart],
    requested: Sequence[CompletedPart] | None,
    part_count: int,
) -> dict[int, str]:
    """Each part's checksum to name in CompleteMultipartUpload, by part number, checked
    before S3 sees it: the client's (`parts[].checksum`), else the one S3 lists.

    A COMPOSITE upload (SHA256) completes only with every part's checksum. Refusing here, not
    in S3, keeps the multipart upload open: the client can retry with the checksums.

    Raises:
        DomainError: checksum_invalid (a checksum not of the session's algorithm, or any on
            a session that declared none), checksum_required (a COMPOSITE upload's part with
            no checksum from the client or S3), parts_invalid (a client's checksum is not the
            one S3 lists for that part).
    """
    given = {part.part_number: part.checksum for part in requested or () if part.checksum}
    if algorithm is None:
        if given:
            raise DomainError(
                ErrorCode.CHECKSUM_INVALID,
                "this session declared no checksum_algorithm: send no part checksums",
            )
        return {}
    _check_given(algorithm, given)
    listed = {part.number: part.checksum for part in uploaded if part.checksum}
    differ = sorted(n for n, checksum in given.items() if listed.get(n, checksum) != checksum)
    if differ:
        raise DomainError(
            ErrorCode.PARTS_INVALID,
            f"checksums do not match the uploaded parts: {_few(differ)}",
        )
    checksums = {n: c for n in range(1, part_count + 1) if (c := given.get(n) or listed.get(n))}
    if MULTIPART_CHECKSUM_TYPE[algorithm] == ChecksumType.COMPOSITE:
        lacking = [n for n in range(1, part_count + 1) if n not in checksums]
        if lacking:
            raise DomainError(
                ErrorCode.CHECKSUM_REQUIRED,
                f"a {algorithm} multipart upload completes with every part's checksum"
                f" (parts[].checksum); none for parts {_few(lacking)}",
            )
    return checksums


def _check_given(algorithm: ChecksumAlgorithm, given: dict[int, str]) -> None:
    wrong = sorted(n for n, checksum in given.items() if not is_valid_checksum(algorithm, checksum))
    if wrong:
        raise DomainError(
            ErrorCode.CHECKSUM_INVALID,
            f"part checksums that are not a base64 {algorithm} digest: {_few(wrong)}",
        )


def _check_requested(
    requested: Sequence[CompletedPart], uploaded: dict[int, UploadedPart], part_count: int
) -> None:
    numbers = [part.part_number for part in requested]
    twice = sorted(number for number, seen in Counter(numbers).items() if seen > 1)
    if twice:
        raise DomainError(ErrorCode.PARTS_INVALID, f"parts listed more than once: {_few(twice)}")
    missing, extra = _difference(set(numbers), part_count)
    if missing or extra:
        raise DomainError(
            ErrorCode.PARTS_INVALID,
            f"parts must be exactly 1..{part_count}; missing {_few(missing)},"
            f" outside the range {_few(extra)}",
        )
    not_uploaded = sorted(number for number in numbers if number not in uploaded)
    if not_uploaded:
        raise DomainError(ErrorCode.UPLOAD_INCOMPLETE, f"parts not uploaded: {_few(not_uploaded)}")
    stale = sorted(
        part.part_number
        for part in requested
        if normal_etag(part.etag) != normal_etag(uploaded[part.part_number].etag)
    )
    if stale:
        raise DomainError(
            ErrorCode.PARTS_INVALID, f"etags do not match the uploaded parts: {_few(stale)}"
        )


def _check_uploaded(uploaded: dict[int, UploadedPart], part_count: int) -> None:
    missing, extra = _difference(set(uploaded), part_count)
    if extra:
        raise DomainError(
            ErrorCode.PARTS_INVALID, f"parts outside 1..{part_count} were uploaded: {_few(extra)}"
        )
    if missing:
        raise DomainError(
            ErrorCode.UPLOAD_INCOMPLETE,
            f"{len(missing)} of {part_count} parts not uploaded: {_few(missing)}",
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
            ErrorCode.PARTS_INVALID, f"parts other than the last are under 5 MiB: {_few(small)}"
        )


def _difference(numbers: set[int], part_count: int) -> tuple[list[int], list[int]]:
    expected = set(range(1, part_count + 1))
    return sorted(expected - numbers), sorted(numbers - expected)


def _few(numbers: Sequence[int]) -> str:
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


def check_checksum(actual_sha256: str, declared_sha256: str) -> None:
    if actual_sha256.lower() != declared_sha256.lower():
        raise DomainError(
            ErrorCode.CHECKSUM_MISMATCH,
            "the uploaded bytes do not match the declared checksum_sha256",
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
