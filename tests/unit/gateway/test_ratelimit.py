"""The per-tenant token bucket."""

import pytest

from intake_gateway.ratelimit import RateLimitedError, TenantRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_tenant_over_its_burst_waits_and_others_do_not() -> None:
    clock = Clock()
    limiter = TenantRateLimiter(rate_per_s=2, burst=3, clock=clock)
    for _ in range(3):
        limiter.admit("a")
    with pytest.raises(RateLimitedError) as refused:
        limiter.admit("a")
    assert refused.value.retry_after_s == 1
    limiter.admit("b")
    clock.now += 0.5
    limiter.admit("a")  # one token back after half a second at 2/s


def test_rate_zero_turns_the_limit_off() -> None:
    limiter = TenantRateLimiter(rate_per_s=0, burst=1)
    for _ in range(100):
        limiter.admit("a")
