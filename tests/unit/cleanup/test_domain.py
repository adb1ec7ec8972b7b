"""Which sessions, objects and uploads each cleanup job may touch, given the index and thresholds."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from intake_cleanup import domain
from intake_cleanup.domain import IndexedSession, Job, RunStatus
from intake_cleanup.settings import CleanupSettings
from intake_contracts.errors import DomainError, ErrorCode
from intake_contracts.keys import temp_key
from intake_contracts.sessions import StatusView, UploadStatus

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def session(status: UploadStatus = UploadStatus.UPLOADING, **changes: object) -> IndexedSession:
    session_id = uuid.uuid4()
    base = IndexedSession(
        id=session_id,
        tenant_id="t-1",
        status=status,
        bucket="intake-uploads",
        temp_key=temp_key(session_id),
        multipart_upload_id=None,
        expires_at=NOW + 20 * HOUR,
        last_event_at=NOW - 2 * HOUR,
        active_since=NOW - 2 * HOUR,
        asset_id=None,
        asset_created=False,
        asset_promoted=False,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_every_job_name_parses_and_an_unknown_one_is_refused() -> None:
    assert [domain.parse_job(job.value) for job in Job] == list(Job)
    with pytest.raises(DomainError) as refused:
        domain.parse_job("vacuum")
    assert refused.value.code == ErrorCode.UNKNOWN_JOB


def test_abandoned_means_uploading_and_idle_since_before_the_cutoff() -> None:
    idle_before = domain.cutoff(NOW, 3600)
    assert domain.is_abandoned(session(active_since=NOW - 2 * HOUR), idle_before)
    assert not domain.is_abandoned(session(active_since=NOW - HOUR / 2), idle_before)
    assert not domain.is_abandoned(session(active_since=idle_before), idle_before)
    for status in (UploadStatus.INITIATING, UploadStatus.COMPLETED, UploadStatus.FAILED):
        assert not domain.is_abandoned(session(status), idle_before)


def test_expired_means_live_and_past_expiry() -> None:
    assert domain.is_expired(session(expires_at=NOW), NOW)
    assert domain.is_expired(session(UploadStatus.INITIATING, expires_at=NOW - HOUR), NOW)
    assert not domain.is_expired(session(expires_at=NOW + HOUR), NOW)
    assert not domain.is_expired(session(UploadStatus.CANCELLED, expires_at=NOW - HOUR), NOW)


def test_reconcile_only_completed_sessions_without_a_promoted_asset_after_the_grace() -> None:
    before = domain.cutoff(NOW, 300)
    assert domain.needs_reconcile(session(UploadStatus.COMPLETED), before)
    unpromoted = session(UploadStatus.COMPLETED, asset_created=True)
    assert domain.needs_reconcile(unpromoted, before)
    promoted = session(UploadStatus.COMPLETED, asset_created=True, asset_promoted=True)
    assert not domain.needs_reconcile(promoted, before)
    assert not domain.needs_reconcile(session(UploadStatus.COMPLETED, last_event_at=NOW), before)
    assert not domain.needs_reconcile(session(UploadStatus.UPLOADING), before)


def test_residue_of_unknown_and_terminal_sessions_goes_once_old_enough() -> None:
    older_than = domain.cutoff(NOW, 24 * 3600)
    old, fresh = NOW - 25 * HOUR, NOW - HOUR
    unknown_key = temp_key(uuid.uuid4())
    assert domain.residue_reason(unknown_key, old, None, older_than) == "unknown_session"
    assert domain.residue_reason(unknown_key, fresh, None, older_than) is None
    for status in (UploadStatus.FAILED, UploadStatus.CANCELLED):
        ended = session(status)
        reason = domain.residue_reason(ended.temp_key, old, ended, older_than)
        assert reason == f"session_{status.value.lower()}"


def test_residue_of_live_sessions_and_unpromoted_completions_is_kept() -> None:
    older_than = domain.cutoff(NOW, 0)
    old = NOW - 25 * HOUR
    for status in (UploadStatus.INITIATING, UploadStatus.UPLOADING):
        live = session(status)
        assert domain.residue_reason(live.temp_key, old, live, older_than) is None
    no_asset = session(UploadStatus.COMPLETED)
    assert domain.residue_reason(no_asset.temp_key, old, no_asset, older_than) is None
    # The Asset names the temp key until its promotion is seen: its bytes are kept.
    unpromoted = session(UploadStatus.COMPLETED, asset_created=True)
    assert domain.residue_reason(unpromoted.temp_key, old, unpromoted, older_than) is None
    promoted = session(UploadStatus.COMPLETED, asset_created=True, asset_promoted=True)
    assert domain.residue_reason(promoted.temp_key, old, promoted, older_than) == (
        "session_completed"
    )


def test_an_asset_created_at_a_permanent_key_was_promoted_at_creation() -> None:
    session_id = uuid.uuid4()
    assert not domain.promoted_at_creation(temp_key(session_id))
    assert domain.promoted_at_creation(f"tenants/t-1/assets/{session_id}/original")


@pytest.mark.parametrize(
    "key",
    [
        "tenants/t-1/assets/0d3c1f2e-0000-4000-8000-000000000000/original",
        "temp/uploads/not-a-uuid/original",
        "temp/uploads/00000001-0000-4000-8000-000000000000/original.bak",
        "temp/uploads/00000002-0000-4000-8000-000000000000/",
        "other/temp/uploads/00000003-0000-4000-8000-000000000000/original",
    ],
)
def test_keys_outside_the_temp_contract_are_never_touched(key: str) -> None:
    assert domain.residue_reason(key, NOW - 100 * HOUR, None, NOW) is None


def test_a_session_record_of_another_id_never_condemns_a_key() -> None:
    other = session(UploadStatus.FAILED)
    assert domain.residue_reason(temp_key(uuid.uuid4()), NOW - 100 * HOUR, other, NOW) is None


def test_a_run_with_errors_is_failed() -> None:
    assert domain.run_status([]) == RunStatus.OK
    assert domain.run_status(["s3 down"]) == RunStatus.FAILED


def test_chunks_cover_every_item_once_in_slices_of_at_most_the_size() -> None:
    items = list(range(2501))
    slices = domain.chunks(items, 1000)
    assert [len(s) for s in slices] == [1000, 1000, 501]
    assert [i for s in slices for i in s] == items
    assert domain.chunks([], 1000) == []


def test_unchanged_sessions_split_into_live_and_terminal() -> None:
    live, done = uuid.uuid4(), uuid.uuid4()
    views = [
        StatusView(upload_session_id=live, status=UploadStatus.UPLOADING),
        StatusView(upload_session_id=done, status=UploadStatus.COMPLETED),
    ]
    split = domain.sort_unchanged(views)
    assert split.live == [live]
    assert split.terminal == [(done, UploadStatus.COMPLETED)]


@pytest.mark.parametrize("job", sorted(domain.SESSION_JOBS))
def test_a_scheduled_session_job_runs_once_per_configured_tenant(job: Job) -> None:
    assert domain.tenant_scopes(job, ["soak-1", "soak-2"]) == ["soak-1", "soak-2"]


@pytest.mark.parametrize("job", sorted(set(Job) - domain.SESSION_JOBS))
def test_jobs_outside_the_session_index_run_once_over_every_tenant(job: Job) -> None:
    assert domain.tenant_scopes(job, ["soak-1", "soak-2"]) == [None]


def test_no_configured_tenant_means_every_tenant() -> None:
    assert domain.tenant_scopes(Job.DETECT_ABANDONED, []) == [None]


def test_the_tenant_scope_setting_is_a_comma_separated_list() -> None:
    settings = CleanupSettings(INTAKE_ENV="local", INTAKE_CLEANUP_TENANTS=" a, b ,,c ")
    assert settings.tenant_scope == ["a", "b", "c"]
    assert CleanupSettings(INTAKE_ENV="local").tenant_scope == []


def test_sessions_are_grouped_by_bucket_for_batched_deletes() -> None:
    one, two, three = session(), session(bucket="intake-uploads-t2"), session()
    assert domain.by_bucket([one, two, three]) == [
        ("intake-uploads", [one, three]),
        ("intake-uploads-t2", [two]),
    ]
