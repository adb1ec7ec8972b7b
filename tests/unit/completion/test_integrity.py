"""Completion's checksum rules: what the Asset records, each part's checksum a COMPOSITE upload
completes with, the declared whole-file SHA-256."""

import base64
import hashlib

import pytest

from intake_completion import integrity
from intake_completion.domain import MiB, UploadedPart
from intake_contracts.commands import CompletedPart
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.integrity import ChecksumAlgorithm

CHUNK = 8 * MiB


def refusal(call: object, *args: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


def asked(*numbers: int) -> list[CompletedPart]:
    return [CompletedPart(part_number=n, etag=f'"etag-{n}"') for n in numbers]


def test_checksum_must_match_ignoring_case() -> None:
    integrity.check_checksum("AB" * 32, "ab" * 32)
    assert (
        refusal(integrity.check_checksum, "ab" * 32, "cd" * 32).code == ErrorCode.CHECKSUM_MISMATCH
    )


def test_the_checked_checksum_is_s3s_and_must_be_the_declared_one() -> None:
    sha = ChecksumAlgorithm.SHA256
    assert integrity.checked_checksum(None, "x", "y") is None
    assert integrity.checked_checksum(sha, "a", "a") == "a"
    assert integrity.checked_checksum(sha, None, "s3s") == "s3s"
    assert integrity.checked_checksum(sha, "declared", None) == "declared"
    assert refusal(integrity.checked_checksum, sha, "a", "b").code == ErrorCode.CHECKSUM_MISMATCH


def test_a_composite_checksum_is_not_compared_with_the_whole_files() -> None:
    """S3's COMPOSITE SHA-256 is a checksum of the parts' checksums: the declared whole-file
    one (verified by reading the object back) is recorded, S3's only when none was declared."""
    sha = ChecksumAlgorithm.SHA256
    composite = f"{B64[1]}-2"
    assert integrity.checked_checksum(sha, B64[0], composite, "COMPOSITE") == B64[0]
    assert integrity.checked_checksum(sha, None, composite, "COMPOSITE") == composite
    assert integrity.checked_checksum(sha, B64[0], composite) == B64[0]  # the suffix says so
    assert integrity.is_composite(composite, None)
    assert not integrity.is_composite(B64[0], "FULL_OBJECT")


# --- part checksums at complete -------------------------------------------------------------

B64 = [base64.b64encode(hashlib.sha256(bytes([n])).digest()).decode() for n in range(4)]
SHA = ChecksumAlgorithm.SHA256


def with_checksums(*checksums: str | None) -> list[CompletedPart]:
    return [
        CompletedPart(part_number=n, etag=f"etag-{n}", checksum=checksum)
        for n, checksum in enumerate(checksums, start=1)
    ]


def listed(*checksums: str | None) -> list[UploadedPart]:
    return [
        UploadedPart(n, CHUNK, f"etag-{n}", checksum) for n, checksum in enumerate(checksums, 1)
    ]


def test_a_composite_upload_names_the_clients_part_checksums() -> None:
    assert integrity.part_checksums(SHA, listed(None, None), with_checksums(B64[1], B64[2]), 2) == {
        1: B64[1],
        2: B64[2],
    }


def test_a_part_checksum_s3_lists_stands_in_for_one_the_client_did_not_send() -> None:
    uploaded = listed(B64[1], B64[2])
    assert integrity.part_checksums(SHA, uploaded, None, 2) == {1: B64[1], 2: B64[2]}
    assert integrity.part_checksums(SHA, uploaded, with_checksums(None, B64[2]), 2) == {
        1: B64[1],
        2: B64[2],
    }


@pytest.mark.parametrize(
    ("requested", "lacking"),
    [(None, "[1, 2]"), (with_checksums(B64[1], None), "[2]")],
    ids=["no-list", "one-lacking"],
)
def test_a_composite_upload_without_every_part_checksum_is_refused(
    requested: list[CompletedPart] | None, lacking: str
) -> None:
    error = refusal(integrity.part_checksums, SHA, listed(None, None), requested, 2)
    assert error.code == ErrorCode.CHECKSUM_REQUIRED
    assert error.detail.endswith(lacking)


def test_a_full_object_upload_needs_no_part_checksums_but_passes_those_given() -> None:
    crc = ChecksumAlgorithm.CRC32C
    assert integrity.part_checksums(crc, listed(None, None), None, 2) == {}
    assert integrity.part_checksums(
        crc, listed(None, None), with_checksums("AAAAAA==", None), 2
    ) == {1: "AAAAAA=="}


@pytest.mark.parametrize(
    ("algorithm", "checksum"),
    [(SHA, "AAAAAA=="), (ChecksumAlgorithm.CRC32C, B64[1]), (None, B64[1])],
    ids=["short-for-sha256", "long-for-crc32c", "no-algorithm"],
)
def test_a_part_checksum_not_of_the_sessions_algorithm_is_invalid(
    algorithm: ChecksumAlgorithm | None, checksum: str
) -> None:
    error = refusal(
        integrity.part_checksums, algorithm, listed(None, None), with_checksums(checksum, None), 2
    )
    assert error.code == ErrorCode.CHECKSUM_INVALID


def test_a_client_checksum_other_than_the_one_s3_lists_is_an_invalid_part_list() -> None:
    error = refusal(
        integrity.part_checksums, SHA, listed(B64[1], B64[2]), with_checksums(B64[1], B64[3]), 2
    )
    assert error.code == ErrorCode.PARTS_INVALID
    assert "[2]" in error.detail


def test_a_session_without_an_algorithm_names_no_part_checksums() -> None:
    assert integrity.part_checksums(None, listed(B64[1]), asked(1), 1) == {}
