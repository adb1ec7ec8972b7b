"""Completion's pure rules: which parts complete an upload, sizes, title, access."""

import pytest

from intake_completion import domain
from intake_completion.domain import MiB, UploadedPart
from intake_contracts.commands import CompletedPart
from intake_contracts.envelope import Principal
from intake_contracts.errors import DomainError, ErrorCode

CHUNK = 8 * MiB


def uploaded(*sizes: int) -> list[UploadedPart]:
    return [UploadedPart(n, size, f"etag-{n}") for n, size in enumerate(sizes, start=1)]


def asked(*numbers: int, etag: str | None = None) -> list[CompletedPart]:
    return [CompletedPart(part_number=n, etag=etag or f'"etag-{n}"') for n in numbers]


def refusal(call: object, *args: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


# --- parts listed by S3 (the client sent none) ----------------------------------------------


def test_all_uploaded_parts_complete_the_upload() -> None:
    chosen = domain.parts_to_complete(uploaded(CHUNK, CHUNK, 3), None, 3, 2 * CHUNK + 3)
    assert chosen == [(1, "etag-1"), (2, "etag-2"), (3, "etag-3")]


def test_an_empty_client_list_means_use_the_uploaded_parts() -> None:
    assert domain.parts_to_complete(uploaded(CHUNK, 1), [], 2, CHUNK + 1) == [
        (1, "etag-1"),
        (2, "etag-2"),
    ]


def test_a_missing_part_is_an_incomplete_upload() -> None:
    parts = [UploadedPart(1, CHUNK, "a"), UploadedPart(3, 1, "c")]
    error = refusal(domain.parts_to_complete, parts, None, 3, 2 * CHUNK + 1)
    assert error.code == ErrorCode.UPLOAD_INCOMPLETE
    assert "[2]" in error.detail


def test_no_part_at_all_is_an_incomplete_upload() -> None:
    error = refusal(domain.parts_to_complete, [], None, 2, CHUNK + 1)
    assert error.code == ErrorCode.UPLOAD_INCOMPLETE
    assert "2 of 2" in error.detail


def test_a_part_beyond_the_part_count_is_invalid() -> None:
    error = refusal(domain.parts_to_complete, uploaded(CHUNK, 1, 1), None, 2, CHUNK + 1)
    assert error.code == ErrorCode.PARTS_INVALID


def test_many_missing_parts_are_summarised() -> None:
    error = refusal(domain.parts_to_complete, [], None, 25, 25 * CHUNK)
    assert "and 15 more" in error.detail


# --- parts sent by the client --------------------------------------------------------------


def test_the_clients_parts_complete_the_upload_in_order() -> None:
    chosen = domain.parts_to_complete(uploaded(CHUNK, 5), asked(2, 1), 2, CHUNK + 5)
    assert chosen == [(1, "etag-1"), (2, "etag-2")]


@pytest.mark.parametrize(
    "numbers",
    [(1,), (1, 3), (0, 1, 2), (1, 2, 3), (2, 3)],
    ids=["short", "gap", "zero", "beyond", "no-first"],
)
def test_the_clients_parts_must_be_exactly_one_to_part_count(numbers: tuple[int, ...]) -> None:
    error = refusal(domain.parts_to_complete, uploaded(CHUNK, 5), asked(*numbers), 2, CHUNK + 5)
    assert error.code == ErrorCode.PARTS_INVALID


def test_a_part_listed_twice_is_invalid() -> None:
    error = refusal(domain.parts_to_complete, uploaded(CHUNK, 5), asked(1, 2, 2), 2, CHUNK + 5)
    assert error.code == ErrorCode.PARTS_INVALID
    assert "more than once" in error.detail


def test_a_client_part_that_was_never_uploaded_is_an_incomplete_upload() -> None:
    error = refusal(domain.parts_to_complete, uploaded(CHUNK), asked(1, 2), 2, CHUNK + 5)
    assert error.code == ErrorCode.UPLOAD_INCOMPLETE


def test_a_wrong_etag_is_invalid() -> None:
    error = refusal(
        domain.parts_to_complete, uploaded(CHUNK, 5), asked(1, 2, etag="other"), 2, CHUNK + 5
    )
    assert error.code == ErrorCode.PARTS_INVALID


def test_etags_compare_without_quotes_or_case() -> None:
    parts = [UploadedPart(1, 7, "ABC")]
    assert domain.parts_to_complete(parts, asked(1, etag='"abc"'), 1, 7) == [(1, "ABC")]


# --- sizes, checksum, title, access --------------------------------------------------------


def test_parts_that_do_not_add_up_to_the_file_are_a_size_mismatch() -> None:
    error = refusal(domain.parts_to_complete, uploaded(CHUNK, 1), None, 2, CHUNK + 5)
    assert error.code == ErrorCode.SIZE_MISMATCH


def test_a_small_part_before_the_last_is_invalid() -> None:
    error = refusal(domain.parts_to_complete, uploaded(MiB, CHUNK), None, 2, MiB + CHUNK)
    assert error.code == ErrorCode.PARTS_INVALID


def test_object_size_must_equal_the_declared_size() -> None:
    domain.check_size(10, 10)
    assert refusal(domain.check_size, 9, 10).code == ErrorCode.SIZE_MISMATCH


@pytest.mark.parametrize(
    ("title", "expected"), [(None, "a.png"), ("  ", "a.png"), (" Sunset ", "Sunset")]
)
def test_title_defaults_to_the_file_name(title: str | None, expected: str) -> None:
    assert domain.title_for(title, "a.png") == expected


def test_a_long_title_is_refused_before_anything_changes() -> None:
    domain.check_title("x" * 255)
    assert refusal(domain.check_title, "x" * 256).code == ErrorCode.VALIDATION_FAILED


def test_acting_as_keeps_the_callers_identity() -> None:
    user = Principal(user_id="u", tenant_id="t", brand_ids=("b1",), permissions=("p",))
    service = domain.acting_as(user, "completion")
    assert service.service == "completion"
    assert (service.user_id, service.tenant_id, service.brand_ids) == ("u", "t", ("b1",))
