"""Which reply topics the sweep may delete, which permanent uploads it may abort, and the
prune cutoff: pure rules."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from intake_cleanup import domain
from intake_cleanup.settings import REDELIVERY_WINDOW_S, CleanupSettings
from intake_contracts.commands import PruneResult
from intake_contracts.keys import asset_key, asset_of_key, temp_key

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
PREFIX = "ns-a.intake.replies."


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("ns-a.intake.replies.gateway.abc123", True),
        ("ns-a.intake.replies.", False),  # the bare prefix is no instance's topic
        ("intake.replies.gateway.abc123", False),  # no namespace: another system
        ("ns-b.intake.replies.gateway.abc123", False),  # another namespace
        ("ns-a.intake.initiation.commands", False),
    ],
)
def test_only_this_namespaces_reply_topics_are_candidates(topic: str, expected: bool) -> None:
    assert domain.is_reply_topic(topic, PREFIX) is expected


def test_a_live_topic_is_never_sweepable_however_old_its_record() -> None:
    old = NOW - 365 * 24 * 60 * MINUTE
    assert not domain.reply_topic_sweepable(live=True, unclaimed_since=old, now=NOW, grace_s=0)


def test_an_unclaimed_topic_waits_out_the_grace_period() -> None:
    grace_s = 600.0
    just_seen = NOW - 9 * MINUTE
    long_seen = NOW - 10 * MINUTE
    assert not domain.reply_topic_sweepable(
        live=False, unclaimed_since=just_seen, now=NOW, grace_s=grace_s
    )
    assert domain.reply_topic_sweepable(
        live=False, unclaimed_since=long_seen, now=NOW, grace_s=grace_s
    )


def test_an_unclaimed_topic_never_recorded_is_not_swept() -> None:
    assert not domain.reply_topic_sweepable(live=False, unclaimed_since=None, now=NOW, grace_s=0)


def test_an_unowned_old_upload_under_an_asset_key_is_aborted() -> None:
    key = asset_key("t-1", uuid.uuid4())
    reason = domain.permanent_upload_reason(key, NOW - 2 * MINUTE, NOW - MINUTE, frozenset())
    assert reason == "no_promotion"


def test_an_upload_a_saga_owns_is_kept() -> None:
    key = asset_key("t-1", uuid.uuid4())
    assert (
        domain.permanent_upload_reason(key, NOW - 2 * MINUTE, NOW - MINUTE, frozenset({key}))
        is None
    )


def test_an_upload_newer_than_the_threshold_is_kept() -> None:
    key = asset_key("t-1", uuid.uuid4())
    assert domain.permanent_upload_reason(key, NOW, NOW - MINUTE, frozenset()) is None


@pytest.mark.parametrize(
    "key",
    [
        "tenants/t-1/assets/not-a-uuid/original",
        "tenants/t-1/assets/00000001-0000-4000-8000-000000000000/thumbnail",
        "tenants/t-1/other/00000002-0000-4000-8000-000000000000/original",
        temp_key(uuid.UUID("00000003-0000-4000-8000-000000000000")),
    ],
)
def test_a_key_outside_the_asset_layout_is_never_aborted(key: str) -> None:
    assert domain.permanent_upload_reason(key, NOW - 2 * MINUTE, NOW, frozenset()) is None


def test_asset_of_key_reads_back_what_asset_key_wrote() -> None:
    asset_id = uuid.uuid4()
    assert asset_of_key(asset_key("tenant-9", asset_id)) == ("tenant-9", asset_id)


def test_the_prune_age_cannot_be_shorter_than_the_redelivery_window() -> None:
    with pytest.raises(ValidationError):
        CleanupSettings.model_validate({"INTAKE_PRUNE_AFTER_S": REDELIVERY_WINDOW_S})
    settings = CleanupSettings.model_validate({"INTAKE_PRUNE_AFTER_S": REDELIVERY_WINDOW_S + 1})
    assert settings.prune_after_s > REDELIVERY_WINDOW_S


def test_the_prune_age_is_read_from_its_deprecated_spelling_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    day = 24 * 3600
    monkeypatch.delenv("INTAKE_PRUNE_AFTER_S", raising=False)
    monkeypatch.setenv("INTAKE_RETENTION_S", str(50 * day))
    assert CleanupSettings().prune_after_s == 50 * day  # a deployed config keeps working
    monkeypatch.setenv("INTAKE_PRUNE_AFTER_S", str(40 * day))
    assert CleanupSettings().prune_after_s == 40 * day  # the current spelling wins
    with pytest.raises(ValidationError):
        CleanupSettings(INTAKE_RETENTION_S=REDELIVERY_WINDOW_S)  # held to the same bound


def test_the_prune_age_defaults_to_thirty_days() -> None:
    assert CleanupSettings.model_validate({}).prune_after_s == 30 * 24 * 3600


@pytest.mark.parametrize(
    ("removed", "inbox", "outbox", "exhausted"),
    [(0, 0, 0, True), (999, 999, 999, True), (1000, 0, 0, False), (0, 0, 1000, False)],
)
def test_batches_go_on_while_any_table_filled_its_batch(
    removed: int, inbox: int, outbox: int, exhausted: bool
) -> None:
    result = PruneResult(removed=removed, inbox_removed=inbox, outbox_removed=outbox)
    assert result.exhausted(1000) is exhausted
