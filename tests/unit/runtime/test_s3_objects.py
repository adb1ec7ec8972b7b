"""How the S3 adapter reads the checksums in S3's answers."""

from intake_runtime.storage.s3.objects import checksums_of


def test_a_parts_checksums_are_read_by_algorithm_as_s3_spells_them() -> None:
    listed = {
        "PartNumber": 1,
        "ETag": '"e"',
        "Size": 5,
        "ChecksumSHA256": "abc=",
        "ChecksumCRC32C": "",
    }
    assert checksums_of(listed) == {"SHA256": "abc="}
    assert checksums_of({"PartNumber": 1}) == {}
