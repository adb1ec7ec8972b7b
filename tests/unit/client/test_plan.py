"""Part planning: byte ranges of every part and which parts a resume still has to send."""

import pytest

from intake_client.errors import FileChangedError
from intake_client.models import UploadedPart
from intake_client.plan import Part, batches, parts_to_send, plan_parts

MiB = 1024 * 1024


def test_parts_cover_the_file_exactly_once() -> None:
    parts = plan_parts(20 * MiB + 3, 8 * MiB, 3)
    assert parts == [
        Part(1, 0, 8 * MiB),
        Part(2, 8 * MiB, 8 * MiB),
        Part(3, 16 * MiB, 4 * MiB + 3),
    ]
    assert sum(p.size for p in parts) == 20 * MiB + 3


def test_an_exact_multiple_has_no_empty_tail_part() -> None:
    parts = plan_parts(16 * MiB, 8 * MiB, 2)
    assert [p.size for p in parts] == [8 * MiB, 8 * MiB]


def test_a_part_count_that_does_not_fit_the_file_means_the_file_changed() -> None:
    with pytest.raises(FileChangedError):
        plan_parts(30 * MiB, 8 * MiB, 3)


@pytest.mark.parametrize(("chunk", "count"), [(0, 1), (8 * MiB, 0)])
def test_nonsense_session_geometry_is_refused(chunk: int, count: int) -> None:
    with pytest.raises(FileChangedError):
        plan_parts(10 * MiB, chunk, count)


def test_resume_sends_only_missing_parts() -> None:
    parts = plan_parts(20 * MiB, 8 * MiB, 3)
    uploaded = [UploadedPart(1, 8 * MiB, '"a"'), UploadedPart(3, 4 * MiB, '"c"')]
    assert [p.number for p in parts_to_send(parts, uploaded)] == [2]


def test_an_uploaded_part_of_the_wrong_size_is_sent_again() -> None:
    parts = plan_parts(20 * MiB, 8 * MiB, 3)
    uploaded = [UploadedPart(1, 5 * MiB, '"short"'), UploadedPart(2, 8 * MiB, '"b"')]
    assert [p.number for p in parts_to_send(parts, uploaded)] == [1, 3]


def test_signing_batches_hold_at_most_the_limit() -> None:
    chunks = list(batches(list(range(1, 251)), 100))
    assert [len(c) for c in chunks] == [100, 100, 50]
    assert chunks[2][0] == 201
