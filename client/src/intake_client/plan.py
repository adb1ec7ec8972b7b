"""Part planning: which byte range each part covers, and which parts still need sending."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from intake_client.errors import FileChangedError
from intake_client.models import UploadedPart


@dataclass(frozen=True)
class Part:
    number: int  # 1-based, as S3 counts
    offset: int
    size: int


def plan_parts(file_size: int, chunk_size: int, part_count: int) -> list[Part]:
    """Every part of a multipart session, in order.

    Raises:
        FileChangedError: the session's part_count does not fit this file size and chunk size,
            so the file is not the one the session was opened for.
    """
    if chunk_size <= 0 or part_count < 1:
        raise FileChangedError(f"invalid chunk size {chunk_size} or part count {part_count}")
    expected = max(1, -(-file_size // chunk_size))
    if expected != part_count:
        raise FileChangedError(
            f"{file_size} bytes in {chunk_size}-byte parts is {expected} parts, "
            f"the session expects {part_count}"
        )
    return [
        Part(number, offset, min(chunk_size, file_size - offset))
        for number, offset in enumerate(range(0, max(file_size, 1), chunk_size), start=1)
    ]


def parts_to_send(parts: Iterable[Part], uploaded: Iterable[UploadedPart]) -> list[Part]:
    """The parts S3 does not hold yet; an uploaded part of the wrong size is sent again."""
    done = {p.part_number: p.size for p in uploaded}
    return [part for part in parts if done.get(part.number) != part.size]


def batches(numbers: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(numbers), size):
        yield numbers[start : start + size]
