"""The completion saga's pure rules: step order, leases, the tenant cap, S3's stored digest."""

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from intake_completion import saga
from intake_completion.saga import Step

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_steps_run_in_one_order_and_end_at_done() -> None:
    order = [Step.FINALIZING]
    while order[-1] != Step.DONE:
        order.append(saga.next_step(order[-1]))
    assert order == [Step.FINALIZING, Step.PROMOTING, Step.RELEASING, Step.DONE]
    with pytest.raises(saga.StepConflictError):
        saga.next_step(Step.DONE)


@pytest.mark.parametrize("current", list(Step))
@pytest.mark.parametrize("expected", [Step.FINALIZING, Step.PROMOTING, Step.RELEASING])
def test_a_step_advances_only_from_where_the_saga_is(current: Step, expected: Step) -> None:
    if current == expected:
        assert saga.advance(current, expected) == saga.next_step(expected)
    else:
        with pytest.raises(saga.StepConflictError):
            saga.advance(current, expected)


def test_the_asset_exists_from_promoting_on_and_those_steps_run_in_the_background() -> None:
    assert [saga.asset_recorded(step) for step in Step] == [False, True, True, True]
    assert {Step.PROMOTING, Step.RELEASING} == saga.BACKGROUND


def test_a_lease_is_free_when_never_taken_released_or_expired() -> None:
    assert saga.lease_free(None, NOW)
    assert saga.lease_free(NOW - timedelta(seconds=1), NOW)
    assert saga.lease_free(NOW, NOW)
    assert not saga.lease_free(NOW + timedelta(seconds=1), NOW)


def test_a_failing_step_waits_twice_as_long_each_try_up_to_the_longest() -> None:
    assert [saga.retry_delay_s(tries, 1.0, 30.0) for tries in range(1, 8)] == [
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        30.0,
        30.0,
    ]
    assert saga.retry_delay_s(10_000, 1.0, 30.0) == 30.0  # no overflow however long it fails
    assert saga.retry_delay_s(0, 5.0, 2.0) == 2.0


def test_the_tenant_cap_admits_completions_below_it_only() -> None:
    assert [saga.within_cap(running, 2) for running in range(4)] == [True, True, False, False]


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_a_full_object_sha256_stored_by_s3_is_used() -> None:
    digest = hashlib.sha256(b"bytes").hexdigest()
    assert saga.stored_sha256(sha256_b64(b"bytes")) == digest
    assert saga.stored_sha256(sha256_b64(b"bytes"), "FULL_OBJECT") == digest


@pytest.mark.parametrize(
    ("checksum", "kind"),
    [
        (None, None),  # SeaweedFS, or an uploader that sent no checksum (or only a CRC32)
        # A multipart upload's SHA-256 is of its parts' digests, not of the file.
        (sha256_b64(b"parts") + "-3", None),
        (sha256_b64(b"parts"), "COMPOSITE"),
        ("not base64!", None),
        (base64.b64encode(b"short").decode(), None),
    ],
)
def test_no_usable_stored_digest_means_reading_the_object_back(
    checksum: str | None, kind: str | None
) -> None:
    assert saga.stored_sha256(checksum, kind) is None
