"""Retry policy: exponential backoff with full jitter, bounded, only for fixable errors."""

import random

import httpx
import pytest

from intake_client.errors import IntakeApiError
from intake_client.retry import RetryableStatusError, RetryPolicy, is_retryable
from intake_client.transfer import UrlRejectedError


def test_delays_grow_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(base_s=1.0, cap_s=5.0, rng=random.Random(1))
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # jitter spreads over the whole window


def test_jitter_differs_between_clients() -> None:
    first = RetryPolicy(rng=random.Random(1)).delay(3)
    second = RetryPolicy(rng=random.Random(2)).delay(3)
    assert first != second


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("reset"),
        RetryableStatusError(503, "slow down"),
        IntakeApiError("service_timeout", 504, "no reply"),
        IntakeApiError("service_unavailable", 503, "broker down"),
    ],
)
def test_network_errors_and_5xx_are_retried(error: Exception) -> None:
    assert is_retryable(error)


@pytest.mark.parametrize(
    "error",
    [
        IntakeApiError("upload_session_not_found", 404, "nope"),
        IntakeApiError("validation_failed", 422, "bad"),
        UrlRejectedError(403, "expired"),  # fixed by signing again, not by resending
        ValueError("bug"),
    ],
)
def test_errors_a_retry_cannot_fix_are_not_retried(error: Exception) -> None:
    assert not is_retryable(error)


def test_run_retries_until_success() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ConnectError("refused")
        return "ok"

    assert RetryPolicy(base_s=0.0).run_blocking(flaky) == "ok"
    assert len(calls) == 3


def test_run_gives_up_after_the_attempt_limit() -> None:
    calls: list[int] = []

    def down() -> None:
        calls.append(1)
        raise IntakeApiError("service_timeout", 504, "no reply")

    with pytest.raises(IntakeApiError):
        RetryPolicy(attempts=4, base_s=0.0).run_blocking(down)
    assert len(calls) == 4


def test_run_surfaces_a_final_error_at_once() -> None:
    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        raise IntakeApiError("upload_cancelled", 409, "cancelled")

    with pytest.raises(IntakeApiError, match="upload_cancelled"):
        RetryPolicy(base_s=0.0).run_blocking(refused)
    assert len(calls) == 1
