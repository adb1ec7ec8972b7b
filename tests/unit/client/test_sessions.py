"""Sessions.presign: the first part URLs of an upload signed before its transfer starts."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from intake_client.api import IntakeApi
from intake_client.errors import IntakeApiError
from intake_client.models import PartUrl, UploadedPart
from intake_client.results import FileResult
from intake_client.sessions import Job, Prepared, Sessions
from intake_client.state import StateFile


class Now:
    def __init__(self, value: Any) -> None:
        self._value = value

    def now(self) -> Any:
        if isinstance(self._value, Exception):
            raise self._value
        return self._value


class FakeApi:
    base_url = "http://gateway"

    def __init__(self, refuse: bool = False) -> None:
        self.calls: list[tuple[str, list[int]]] = []
        self.checksums: list[list[str] | None] = []
        self._refuse = refuse

    def sign_parts(
        self, session_id: str, numbers: list[int], checksums: list[str] | None = None
    ) -> Now:
        self.calls.append((session_id, numbers))
        self.checksums.append(checksums)
        if self._refuse:
            return Now(IntakeApiError("upload_cancelled", 409, "cancelled"))
        expires = datetime.now(UTC) + timedelta(minutes=15)
        return Now([PartUrl(n, f"http://s3/{session_id}/{n}", expires) for n in numbers])


def job(tmp_path: Path, name: str, size: int, upload_type: str = "multipart") -> Job:
    path = tmp_path / name
    path.write_bytes(b"x" * size)
    found = Job(path, name, size, 0, FileResult(path, size, upload_session_id=f"s-{name}"))
    chunk = 100
    found.fields = {
        "upload_type": upload_type,
        "chunk_size": chunk,
        "part_count": -(-size // chunk),
    }
    return found


def sessions(api: FakeApi, tmp_path: Path) -> Sessions:
    return Sessions(cast(IntakeApi, api), StateFile(tmp_path / "state.json"))


def test_the_parts_still_to_send_of_the_first_files_are_signed_ahead(tmp_path: Path) -> None:
    first, second, third = (job(tmp_path, n, 350) for n in ("a", "b", "c"))
    first.uploaded = (UploadedPart(2, 100, '"e2"'),)  # S3 holds part 2 already
    api = FakeApi()
    sessions(api, tmp_path).presign(Prepared([], [first, second, third]), files=2)

    assert api.calls == [("s-a", [1, 3, 4]), ("s-b", [1, 2, 3, 4])]
    assert [url.part_number for url in first.signed] == [1, 3, 4]
    assert third.signed == []


def test_at_most_one_signing_batch_is_asked_for(tmp_path: Path) -> None:
    big = job(tmp_path, "big", 100 * 250)
    api = FakeApi()
    sessions(api, tmp_path).presign(Prepared([], [big]), files=1)
    assert api.calls == [("s-big", list(range(1, 101)))]


def test_direct_uploads_and_failed_files_are_left_alone(tmp_path: Path) -> None:
    direct = job(tmp_path, "small", 50, upload_type="direct")
    failed = job(tmp_path, "gone", 300)
    failed.result.status = "failed"
    api = FakeApi()
    sessions(api, tmp_path).presign(Prepared([], [direct, failed]), files=4)
    assert api.calls == []


def test_a_refused_signing_leaves_the_transfer_to_sign_and_fails_nothing(tmp_path: Path) -> None:
    refused = job(tmp_path, "a", 300)
    sessions(FakeApi(refuse=True), tmp_path).presign(Prepared([], [refused]), files=1)
    assert refused.signed == []
    assert refused.result.status == "pending"
