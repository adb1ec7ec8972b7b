"""The soak's checker: each invariant reports a snapshot that breaks it, and passes one that
keeps it."""

import random
import uuid
from dataclasses import replace

from intake_contracts import keys
from tests.soak.faults import Fault, plan_round
from tests.soak.invariants import (
    Answer,
    Asset,
    AuditEvent,
    Claim,
    Session,
    Snapshot,
    StoredObject,
    check,
)

TENANT = "t-books"
BUCKET = "b"


def completed_books() -> tuple[Snapshot, uuid.UUID]:
    """One COMPLETED session whose books balance, one CANCELLED one."""
    done, cancelled = uuid.uuid4(), uuid.uuid4()
    asset_id = keys.asset_id_for(done)
    snapshot = Snapshot()
    for sid, status in ((done, "COMPLETED"), (cancelled, "CANCELLED")):
        snapshot.sessions[sid] = Session(
            sid,
            TENANT,
            status,
            10,
            "ab" * 32,
            asset_id if sid == done else None,
            BUCKET,
            keys.temp_key(sid),
        )
        snapshot.index[sid] = status
    key = keys.asset_key(TENANT, asset_id)
    snapshot.assets = [Asset(asset_id, done, TENANT, BUCKET, key, 10, "ab" * 32, promoted=True)]
    snapshot.objects[(BUCKET, key)] = StoredObject(10, "ab" * 32)
    snapshot.completion_steps = {done: "done", cancelled: "finalizing"}
    recorded = [
        (done, "upload.initiated"),
        (done, "upload.uploading"),
        (done, "upload.completed"),
        (done, "asset.created"),
        (done, "asset.promoted"),
        (cancelled, "upload.initiated"),
        (cancelled, "upload.cancelled"),
    ]
    snapshot.audit = [AuditEvent(sid, kind, seq) for seq, (sid, kind) in enumerate(recorded)]
    snapshot.unpublished_outbox = {"initiation": 0}
    snapshot.unanswered_inbox = {"initiation": 0}
    snapshot.answers = [
        Answer("complete", 201, retry_after=False),
        Answer("cancel", 503, retry_after=True),
    ]
    snapshot.claims = [Claim(done, "completed", asset_id), Claim(cancelled, "cancelled")]
    return snapshot, done


def violated(snapshot: Snapshot) -> dict[str, list[str]]:
    return {v.name: v.violations for v in check(snapshot) if v.violations}


def test_balanced_books_pass_every_invariant_and_count_what_they_checked() -> None:
    snapshot, _ = completed_books()
    verdicts = check(snapshot)
    assert violated(snapshot) == {}
    assert all(verdict.checked > 0 for verdict in verdicts)


def test_a_second_asset_for_one_session_is_reported() -> None:
    snapshot, _done = completed_books()
    snapshot.assets.append(replace(snapshot.assets[0], asset_id=uuid.uuid4()))
    assert "one asset per completed" in violated(snapshot)


def test_an_asset_of_a_cancelled_session_is_reported() -> None:
    snapshot, _done = completed_books()
    cancelled = next(s for s in snapshot.sessions.values() if s.status == "CANCELLED")
    snapshot.assets.append(replace(snapshot.assets[0], session_id=cancelled.id))
    assert any(
        "CANCELLED but has an asset" in v for v in violated(snapshot)["one asset per completed"]
    )


def test_an_object_of_the_wrong_size_or_checksum_or_missing_is_reported() -> None:
    for stored in (StoredObject(9, "ab" * 32), StoredObject(10, "cd" * 32), None):
        snapshot, _ = completed_books()
        key = (BUCKET, snapshot.assets[0].object_key)
        if stored is None:
            del snapshot.objects[key]
        else:
            snapshot.objects[key] = stored
        assert "one asset per completed" in violated(snapshot), stored


def test_an_asset_left_at_the_temp_key_is_reported() -> None:
    snapshot, _done = completed_books()
    snapshot.assets[0] = replace(snapshot.assets[0], promoted=False)
    assert "one asset per completed" in violated(snapshot)


def test_stores_that_disagree_on_a_status_are_reported() -> None:
    snapshot, done = completed_books()
    snapshot.index[done] = "UPLOADING"
    assert "one state everywhere" in violated(snapshot)
    snapshot, done = completed_books()
    snapshot.completion_steps[done] = "promoting"
    assert "one state everywhere" in violated(snapshot)


def test_a_duplicate_or_out_of_order_or_missing_audit_event_is_reported() -> None:
    snapshot, done = completed_books()
    snapshot.audit.append(AuditEvent(done, "asset.created", 99))
    assert "audit events complete" in violated(snapshot)
    snapshot, done = completed_books()
    snapshot.audit = [
        e if e.type != "upload.uploading" else replace(e, seq=-1) for e in snapshot.audit
    ]
    assert "audit events complete" in violated(snapshot)
    snapshot, done = completed_books()
    snapshot.audit = [e for e in snapshot.audit if e.type != "asset.promoted"]
    assert "audit events complete" in violated(snapshot)


def test_an_unpublished_event_or_unanswered_command_is_reported() -> None:
    snapshot, _ = completed_books()
    snapshot.unpublished_outbox["completion"] = 2
    snapshot.unanswered_inbox["cleanup"] = 1
    assert len(violated(snapshot)["outboxes and inboxes drained"]) == 2


def test_a_temp_object_or_open_upload_of_a_terminal_session_is_reported() -> None:
    snapshot, done = completed_books()
    temp = snapshot.sessions[done].temp_key
    snapshot.objects[(BUCKET, temp)] = StoredObject(10)
    snapshot.multipart_uploads.append((BUCKET, temp))
    assert len(violated(snapshot)["no residue of terminal"]) == 2


def test_a_500_or_a_503_without_retry_after_is_reported() -> None:
    snapshot, _ = completed_books()
    snapshot.answers += [
        Answer("initiate", 500, retry_after=True),
        Answer("complete", 504, retry_after=False),
    ]
    assert len(violated(snapshot)["client saw no bare 5xx"]) == 2


def test_a_success_the_stores_do_not_hold_is_reported() -> None:
    snapshot, done = completed_books()
    snapshot.claims.append(Claim(done, "completed", uuid.uuid4()))  # another asset than stored
    snapshot.claims.append(Claim(done, "cancelled"))
    snapshot.claims.append(Claim(uuid.uuid4(), "initiated"))
    assert len(violated(snapshot)["client successes kept"]) == 3


def test_every_fault_round_strikes_each_kind_once_at_seeded_offsets_within_its_window() -> None:
    first = plan_round(random.Random(7), 30.0)
    assert sorted(kind for _, kind in first) == sorted(Fault)
    assert first == plan_round(random.Random(7), 30.0)
    assert first != plan_round(random.Random(8), 30.0)
    assert all(0.0 <= offset <= 30.0 for offset, _ in first)
    assert [offset for offset, _ in first] == sorted(offset for offset, _ in first)
