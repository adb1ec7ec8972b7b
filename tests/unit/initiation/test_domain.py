"""The session's pure rules: every state-machine pair, strategy, chunk size, validation."""

import uuid
from datetime import UTC, datetime, timedelta
from itertools import product

import pytest

from intake_contracts import media_types
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.integrity import ChecksumAlgorithm
from intake_contracts.sessions import UploadStatus, UploadType
from intake_initiation import domain
from intake_initiation.domain import GiB, MiB, TiB

S = UploadStatus
ALLOWED = {
    (S.INITIATING, S.UPLOADING),
    (S.INITIATING, S.FAILED),
    (S.INITIATING, S.CANCELLED),
    (S.UPLOADING, S.COMPLETED),
    (S.UPLOADING, S.FAILED),
    (S.UPLOADING, S.CANCELLED),
}


@pytest.mark.parametrize(("current", "target"), list(product(S, S)))
def test_every_transition_pair(current: UploadStatus, target: UploadStatus) -> None:
    assert domain.can_transition(current, target) is ((current, target) in ALLOWED)


@pytest.mark.parametrize("target", list(S))
def test_sources_are_the_compare_and_set_set(target: UploadStatus) -> None:
    assert set(domain.sources_of(target)) == {c for c, t in ALLOWED if t == target}


def test_terminal_statuses_have_no_exit() -> None:
    for status in (S.COMPLETED, S.FAILED, S.CANCELLED):
        assert domain.is_terminal(status)
        assert not any(domain.can_transition(status, target) for target in S)
    assert not domain.is_terminal(S.UPLOADING)


@pytest.mark.parametrize(
    ("size", "expected"),
    [(1, UploadType.DIRECT), (5 * MiB - 1, UploadType.DIRECT), (5 * MiB, UploadType.MULTIPART)],
)
def test_strategy_threshold_is_5_mib(size: int, expected: UploadType) -> None:
    assert domain.strategy_for(size) == expected


def test_chunk_size_defaults_to_8_mib() -> None:
    assert domain.chunk_size_for(20 * MiB) == 8 * MiB
    assert domain.part_count_for(20 * MiB, 8 * MiB) == 3


def test_chunk_size_rises_in_whole_mib_to_fit_10000_parts() -> None:
    size = 100 * GiB
    chunk = domain.chunk_size_for(size)
    assert chunk % MiB == 0
    assert domain.part_count_for(size, chunk) <= 10_000
    assert domain.part_count_for(size, chunk - MiB) > 10_000


def test_a_composite_checksum_upload_fits_in_5000_parts() -> None:
    """Its complete names every part's checksum: fewer parts keep that body under 1 MiB."""
    size = 100 * GiB
    chunk = domain.chunk_size_for(size, max_parts=domain.max_parts_for(ChecksumAlgorithm.SHA256))
    assert domain.part_count_for(size, chunk) <= 5_000 < domain.part_count_for(size, chunk - MiB)
    assert domain.max_parts_for(ChecksumAlgorithm.CRC32C) == 10_000
    assert domain.max_parts_for(None) == 10_000
    assert domain.chunk_size_for(20 * MiB, max_parts=5_000) == 8 * MiB


def test_five_tib_fits_with_parts_under_5_gib() -> None:
    chunk = domain.chunk_size_for(5 * TiB)
    assert chunk <= 5 * GiB
    assert domain.part_count_for(5 * TiB, chunk) <= 10_000


def test_chunk_size_never_below_the_s3_minimum() -> None:
    assert domain.chunk_size_for(6 * MiB, default_chunk=1 * MiB) == 5 * MiB


@pytest.mark.parametrize(
    ("name", "size", "mime", "code"),
    [
        ("", 10, "image/png", ErrorCode.FILE_NAME_INVALID),
        ("a/b.png", 10, "image/png", ErrorCode.FILE_NAME_INVALID),
        ("x" * 256, 10, "image/png", ErrorCode.FILE_NAME_INVALID),
        ("a.png", 0, "image/png", ErrorCode.FILE_SIZE_INVALID),
        ("a.png", -5, "image/png", ErrorCode.FILE_SIZE_INVALID),
        ("a.png", 11, "image/png", ErrorCode.FILE_TOO_LARGE),
        ("a.png", 10, "png", ErrorCode.MIME_TYPE_INVALID),
    ],
)
def test_validation_names_the_problem(name: str, size: int, mime: str, code: ErrorCode) -> None:
    with pytest.raises(DomainError) as raised:
        domain.validate_file(name, size, mime, max_size=10)
    assert raised.value.code == code


def test_valid_file_passes() -> None:
    domain.validate_file("photo.jpg", 10, "image/jpeg", max_size=10)


def test_part_numbers_outside_range_are_refused() -> None:
    domain.check_part_numbers([1, 3], 3)
    with pytest.raises(DomainError) as raised:
        domain.check_part_numbers([0, 4], 3)
    assert raised.value.code == ErrorCode.PART_NUMBER_OUT_OF_RANGE


def test_url_never_outlives_session() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert domain.url_expiry(now, 900, now + timedelta(hours=1)) == now + timedelta(seconds=900)
    assert domain.url_expiry(now, 900, now + timedelta(seconds=60)) == now + timedelta(seconds=60)


def test_resume_needs_a_live_unexpired_session() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = now + timedelta(hours=1)
    assert domain.can_resume(S.UPLOADING, later, now)
    assert not domain.can_resume(S.UPLOADING, now, now)
    assert not domain.can_resume(S.CANCELLED, later, now)


def test_terminal_refusals_have_precise_codes() -> None:
    assert domain.refusal_for_terminal(S.CANCELLED).code == ErrorCode.UPLOAD_CANCELLED
    assert domain.refusal_for_terminal(S.FAILED).code == ErrorCode.UPLOAD_FAILED


@pytest.mark.parametrize(("number", "size"), [(1, 8 * MiB), (2, 8 * MiB), (3, 20 * MiB - 16 * MiB)])
def test_each_part_is_signed_for_its_exact_size(number: int, size: int) -> None:
    assert domain.part_size(number, 20 * MiB, 8 * MiB) == size


@pytest.mark.parametrize(
    "mime_type",
    [
        "text/html",
        "TEXT/HTML",
        "application/xhtml+xml",
        "text/javascript",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "application/rss+xml",
        "application/x-shockwave-flash",
    ],
)
def test_types_browsers_execute_are_refused_by_default(mime_type: str) -> None:
    with pytest.raises(DomainError) as refused:
        domain.check_mime_policy(mime_type, ["*/*"], list(media_types.ACTIVE_CONTENT))
    assert refused.value.code == ErrorCode.MIME_TYPE_NOT_ALLOWED


@pytest.mark.parametrize(
    "mime_type",
    ["text/html\n", " image/png", "image/png ", "image/png; charset=x", "image", "a/b/c"],
)
def test_a_type_outside_the_grammar_is_invalid_not_just_refused(mime_type: str) -> None:
    with pytest.raises(DomainError) as refused:
        domain.validate_file("a.bin", 10, mime_type, 100)
    assert refused.value.code == ErrorCode.MIME_TYPE_INVALID


def test_an_allow_list_admits_only_its_patterns() -> None:
    domain.check_mime_policy("image/png", ["image/*", "application/pdf"], [])
    with pytest.raises(DomainError):
        domain.check_mime_policy("video/mp4", ["image/*", "application/pdf"], [])


def test_an_opened_draft_is_uploading_with_its_upload_id_and_nothing_else_changed() -> None:
    from dataclasses import replace

    from tests.support.contracts.initiation import new_session

    draft = new_session()
    opened = domain.opened(draft, "upload-1")
    assert (opened.status, opened.multipart_upload_id) == (S.UPLOADING, "upload-1")
    assert replace(opened, status=S.INITIATING, multipart_upload_id=None) == draft
    with pytest.raises(DomainError):
        domain.opened(replace(draft, status=S.CANCELLED), None)


def test_every_delivery_of_an_initiate_names_the_same_session() -> None:
    message = uuid.UUID("6a0d8f57-0c1e-4c8f-9a51-0b3c2d1e4f60")
    other = uuid.UUID("0b5e2c1a-7d3f-4e8a-b6c9-1f2e3d4c5b6a")
    assert domain.session_id_for(message) == domain.session_id_for(message)
    assert domain.session_id_for(message) != domain.session_id_for(other)
    assert domain.session_id_for(message) != message
