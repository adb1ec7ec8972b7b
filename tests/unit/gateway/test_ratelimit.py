"""The token buckets: per tenant, per client address, and costs of more than one."""

import pytest

from intake_gateway.ratelimit import RateLimitedError, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_tenant_over_its_burst_waits_and_others_do_not() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=2, burst=3, clock=clock)
    for _ in range(3):
        limiter.admit("a")
    with pytest.raises(RateLimitedError) as refused:
        limiter.admit("a")
    assert refused.value.retry_after_s == 1
    limiter.admit("b")
    clock.now += 0.5
    limiter.admit("a")  # one token back after half a second at 2/s


def test_rate_zero_turns_the_limit_off() -> None:
    limiter = RateLimiter(rate_per_s=0, burst=1)
    for _ in range(100):
        limiter.admit("a")


def test_a_cost_is_taken_whole_or_not_at_all() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=1, burst=10, clock=clock)
    limiter.admit("a", 6)
    with pytest.raises(RateLimitedError) as refused:
        limiter.admit("a", 5)
    assert refused.value.retry_after_s == 1
    limiter.admit("a", 4)  # the refused cost took nothing
    with pytest.raises(RateLimitedError):
        limiter.admit("a")


def test_a_cost_above_the_burst_is_admitted_from_a_full_bucket() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=3, clock=Clock())
    limiter.admit("a", 100)
    with pytest.raises(RateLimitedError):
        limiter.admit("a")
