"""The integrity rules of initiation: what initiate accepts, what part URLs sign."""

import base64
import hashlib

import pytest

from intake_contracts.commands import InitiateUpload
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.integrity import ChecksumAlgorithm
from intake_contracts.sessions import UploadType
from intake_initiation import domain, integrity

ALL = frozenset(ChecksumAlgorithm)
SHA256_ONLY = frozenset({ChecksumAlgorithm.SHA256})
DIGEST = hashlib.sha256(b"hello").digest()
B64 = base64.b64encode(DIGEST).decode()


def request(**fields: object) -> InitiateUpload:
    return InitiateUpload(
        file_name="a.bin", file_size=5, mime_type="text/plain", brand_id="b", **fields
    )


def refused(work: object, *args: object) -> ErrorCode:
    with pytest.raises(DomainError) as error:
        work(*args)  # type: ignore[operator]
    return error.value.code


def test_a_request_declaring_nothing_passes_and_keeps_its_old_fingerprint() -> None:
    plain = request()
    integrity.check_request(plain, ALL, UploadType.DIRECT)
    assert (
        domain.fingerprint(plain)
        == hashlib.sha256(
            plain.model_dump_json(
                exclude={"idempotency_key", "batch_reference", "checksum_algorithm", "checksum"}
            ).encode()
        ).hexdigest()
    )


def test_an_algorithm_the_store_does_not_verify_is_refused() -> None:
    crc = request(checksum_algorithm="CRC32C", checksum="AAAAAA==")
    assert (
        refused(integrity.check_request, crc, SHA256_ONLY, UploadType.DIRECT)
        == ErrorCode.CHECKSUM_ALGORITHM_UNSUPPORTED
    )
    integrity.check_request(crc, ALL, UploadType.DIRECT)


def test_a_direct_upload_declaring_an_algorithm_needs_the_files_checksum() -> None:
    bare = request(checksum_algorithm="SHA256")
    assert (
        refused(integrity.check_request, bare, ALL, UploadType.DIRECT)
        == ErrorCode.CHECKSUM_REQUIRED
    )
    integrity.check_request(bare, ALL, UploadType.MULTIPART)  # parts carry theirs
    hexed = request(checksum_algorithm="SHA256", checksum_sha256=DIGEST.hex())
    integrity.check_request(hexed, ALL, UploadType.DIRECT)
    assert integrity.declared_checksum(hexed) == B64


def test_a_checksum_must_fit_its_algorithm_and_agree_with_checksum_sha256() -> None:
    cases = [
        request(checksum=B64),  # no algorithm
        request(checksum_algorithm="CRC32C", checksum=B64),  # 32 bytes is no CRC32C
        request(checksum_algorithm="SHA256", checksum=B64, checksum_sha256="00" * 32),
    ]
    for case in cases:
        assert (
            refused(integrity.check_request, case, ALL, UploadType.DIRECT)
            == ErrorCode.CHECKSUM_INVALID
        )


def test_multipart_uploads_open_with_full_object_crcs_and_a_composite_sha256() -> None:
    assert integrity.multipart_checksum(None) is None
    assert integrity.multipart_checksum(ChecksumAlgorithm.SHA256) == ("SHA256", "COMPOSITE")
    assert integrity.multipart_checksum(ChecksumAlgorithm.CRC32C) == ("CRC32C", "FULL_OBJECT")
    assert integrity.multipart_checksum(ChecksumAlgorithm.CRC64NVME) == (
        "CRC64NVME",
        "FULL_OBJECT",
    )


def test_part_checksums_are_required_aligned_and_signed_as_s3_names_them() -> None:
    sha = ChecksumAlgorithm.SHA256
    assert integrity.part_checksums(None, [1, 2], None) == [None, None]
    assert refused(integrity.part_checksums, None, [1], [B64]) == ErrorCode.CHECKSUM_INVALID
    assert refused(integrity.part_checksums, sha, [1], None) == ErrorCode.CHECKSUM_REQUIRED
    assert refused(integrity.part_checksums, sha, [1, 2], [B64]) == ErrorCode.CHECKSUM_INVALID
    assert refused(integrity.part_checksums, sha, [1], ["AAAAAA=="]) == ErrorCode.CHECKSUM_INVALID
    assert integrity.part_checksums(sha, [3], [B64]) == [B64]
    assert integrity.signed_headers(sha, B64) == {"x-amz-checksum-sha256": B64}
    assert integrity.signed_headers(None, None) == {}
