"""Pure rules of a session's declared checksums: what initiate accepts, what each URL signs
and how the multipart upload is opened. No I/O.

Measured on SeaweedFS 4.48 (docs/architecture.md, "Integrity"): a signed
`x-amz-checksum-<algorithm>` makes S3 refuse other bytes (400 BadDigest) on a PUT and on an
UploadPart. A multipart upload is opened with the declared algorithm, so S3 keeps each part's
checksum and the object's: FULL_OBJECT for CRC32C and CRC64NVME (complete needs no part
checksums, and S3 reports the whole object's), COMPOSITE for SHA256, the only type S3 offers
it in (complete must name every part's checksum, which the client sends since SeaweedFS's
ListParts does not report them; S3 then keeps `<base64>-<part count>`).
"""

from collections.abc import Sequence

from intake_contracts.commands import InitiateUpload
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.integrity import (
    MULTIPART_CHECKSUM_TYPE,
    ChecksumAlgorithm,
    header_name,
    is_valid_checksum,
    sha256_hex_to_base64,
)
from intake_contracts.sessions import UploadType


def declared_checksum(request: InitiateUpload) -> str | None:
    """The whole file's checksum in the declared algorithm (base64): `checksum`, or for SHA256
    the `checksum_sha256` (hex) spelled as S3 spells it."""
    if request.checksum is not None:
        return request.checksum
    if request.checksum_algorithm == ChecksumAlgorithm.SHA256 and request.checksum_sha256:
        return sha256_hex_to_base64(request.checksum_sha256)
    return None


def check_request(
    request: InitiateUpload, supported: frozenset[ChecksumAlgorithm], upload_type: UploadType
) -> None:
    """Raises DomainError: checksum_algorithm_unsupported, checksum_invalid or (a direct
    upload declaring an algorithm without the file's checksum) checksum_required."""
    algorithm = request.checksum_algorithm
    if algorithm is None:
        if request.checksum is not None:
            raise DomainError(ErrorCode.CHECKSUM_INVALID, "checksum needs a checksum_algorithm")
        return
    if algorithm not in supported:
        names = ", ".join(sorted(supported))
        raise DomainError(
            ErrorCode.CHECKSUM_ALGORITHM_UNSUPPORTED,
            f"checksum_algorithm {algorithm} is not verified by this store; use one of {names}",
        )
    if request.checksum is not None:
        _check_value(algorithm, request.checksum, "checksum")
        sha256 = request.checksum_sha256
        if (
            sha256
            and algorithm == ChecksumAlgorithm.SHA256
            and sha256_hex_to_base64(sha256) != request.checksum
        ):
            raise DomainError(ErrorCode.CHECKSUM_INVALID, "checksum and checksum_sha256 disagree")
    if upload_type == UploadType.DIRECT and declared_checksum(request) is None:
        raise DomainError(
            ErrorCode.CHECKSUM_REQUIRED,
            f"a direct upload declaring {algorithm} needs the file's checksum"
            " (checksum, or checksum_sha256 for SHA256)",
        )


def multipart_checksum(algorithm: ChecksumAlgorithm | None) -> tuple[str, str] | None:
    """(ChecksumAlgorithm, ChecksumType) to open the session's multipart upload with."""
    if algorithm is None:
        return None
    return algorithm.value, MULTIPART_CHECKSUM_TYPE[algorithm].value


def part_checksums(
    algorithm: ChecksumAlgorithm | None,
    part_numbers: Sequence[int],
    checksums: Sequence[str] | None,
) -> list[str | None]:
    """The checksum each part URL signs, aligned with `part_numbers`.

    Raises:
        DomainError: checksum_required (the session declared an algorithm, no checksums
            came), checksum_invalid (not aligned, not of the algorithm, or none declared).
    """
    if algorithm is None:
        if checksums:
            raise DomainError(
                ErrorCode.CHECKSUM_INVALID,
                "this session declared no checksum_algorithm: send no checksums",
            )
        return [None] * len(part_numbers)
    if checksums is None:
        raise DomainError(
            ErrorCode.CHECKSUM_REQUIRED,
            f"this session declared {algorithm}: send each part's checksum",
        )
    if len(checksums) != len(part_numbers):
        raise DomainError(
            ErrorCode.CHECKSUM_INVALID,
            f"{len(checksums)} checksums for {len(part_numbers)} part numbers",
        )
    for number, checksum in zip(part_numbers, checksums, strict=True):
        _check_value(algorithm, checksum, f"checksum of part {number}")
    return list(checksums)


def signed_headers(algorithm: ChecksumAlgorithm | None, checksum: str | None) -> dict[str, str]:
    """The header a client sends with a PUT whose URL signed `checksum`, as S3 names it."""
    return {header_name(algorithm): checksum} if algorithm and checksum else {}


def _check_value(algorithm: ChecksumAlgorithm, checksum: str, what: str) -> None:
    if not is_valid_checksum(algorithm, checksum):
        raise DomainError(ErrorCode.CHECKSUM_INVALID, f"{what} is not a base64 {algorithm} digest")
