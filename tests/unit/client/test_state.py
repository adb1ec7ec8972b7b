"""The resume state file: entries survive a new process, changes are atomic and merged."""

import json
from pathlib import Path

from intake_client.state import StateEntry, StateFile, entry_key


def entry(session: str = "s-1", size: int = 100, mtime_ns: int = 7) -> StateEntry:
    return StateEntry(session, "/data/a.bin", size, mtime_ns, "multipart", 8, 13)


def test_an_entry_is_found_again_by_a_new_reader(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "uploads.json"
    StateFile(path).put("k", entry())
    assert StateFile(path).get("k") == entry()


def test_parts_done_are_recorded_per_entry(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "uploads.json")
    state.put("k", entry())
    state.record_part("k", 2, '"e2"')
    state.record_part("k", 1, '"e1"')
    assert state.get("k").parts_done == {"1": '"e1"', "2": '"e2"'}  # type: ignore[union-attr]


def test_recording_a_part_of_a_forgotten_entry_does_not_recreate_it(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "uploads.json")
    state.record_part("gone", 1, '"e"')
    assert state.get("gone") is None


def test_writers_of_different_files_keep_each_others_entries(tmp_path: Path) -> None:
    path = tmp_path / "uploads.json"
    StateFile(path).put("a", entry("s-a"))
    StateFile(path).put("b", entry("s-b"))
    StateFile(path).remove("a")
    assert set(StateFile(path).entries()) == {"b"}


def test_a_changed_file_does_not_match_its_entry() -> None:
    assert entry().matches(100, 7)
    assert not entry().matches(101, 7)
    assert not entry().matches(100, 8)


def test_a_corrupt_state_file_reads_as_empty_and_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "uploads.json"
    path.write_text("{not json")
    state = StateFile(path)
    assert state.get("k") is None
    state.put("k", entry())
    assert json.loads(path.read_text())["uploads"]["k"]["upload_session_id"] == "s-1"


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "uploads.json")
    for number in range(5):
        state.put(f"k{number}", entry())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uploads.json", "uploads.json.lock"]


def test_unknown_fields_from_a_newer_client_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "uploads.json"
    data = {**entry().to_json(), "future_field": 1}
    path.write_text(json.dumps({"version": 2, "uploads": {"k": data}}))
    assert StateFile(path).get("k") == entry()


def test_keys_tell_gateways_and_paths_apart(tmp_path: Path) -> None:
    file = tmp_path / "a.bin"
    assert entry_key("http://x/", file) == entry_key("http://x", file)
    assert entry_key("http://x", file) != entry_key("http://y", file)
