"""Pure rules of completion's checksums: which checksum the Asset records, each part's
checksum a COMPOSITE upload completes with, the declared whole-file SHA-256. No I/O."""

import base64
import re
from collections.abc import Sequence
from typing import Final

from intake_completion.domain import UploadedPart, few_numbers
from intake_contracts.commands import CompletedPart
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.integrity import (
    MULTIPART_CHECKSUM_TYPE,
    ChecksumAlgorithm,
    ChecksumType,
    is_valid_checksum,
)
from intake_contracts.sessions import SessionRecord

_PART_COUNT_SUFFIX: Final = re.compile(r"-[0-9]+$")


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


def check_checksum(actual_sha256: str, declared_sha256: str) -> None:
    if actual_sha256.lower() != declared_sha256.lower():
        raise DomainError(
            ErrorCode.CHECKSUM_MISMATCH,
            "the uploaded bytes do not match the declared checksum_sha256",
        )


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
            f"checksums do not match the uploaded parts: {few_numbers(differ)}",
        )
    checksums = {n: c for n in range(1, part_count + 1) if (c := given.get(n) or listed.get(n))}
    if MULTIPART_CHECKSUM_TYPE[algorithm] == ChecksumType.COMPOSITE:
        lacking = [n for n in range(1, part_count + 1) if n not in checksums]
        if lacking:
            raise DomainError(
                ErrorCode.CHECKSUM_REQUIRED,
                f"a {algorithm} multipart upload completes with every part's checksum"
                f" (parts[].checksum); none for parts {few_numbers(lacking)}",
            )
    return checksums


def _check_given(algorithm: ChecksumAlgorithm, given: dict[int, str]) -> None:
    wrong = sorted(n for n, checksum in given.items() if not is_valid_checksum(algorithm, checksum))
    if wrong:
        raise DomainError(
            ErrorCode.CHECKSUM_INVALID,
            f"part checksums that are not a base64 {algorithm} digest: {few_numbers(wrong)}",
        )
