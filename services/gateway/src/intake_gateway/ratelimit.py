"""Per-tenant request rate limit: a token bucket per tenant, held in this process.

Each gateway replica counts on its own, so N replicas admit up to N times the configured rate;
a deployment that needs one global limit puts a shared counter (Redis, the ingress) in front.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

_MAX_TRACKED_TENANTS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimitedError(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"rate limited; retry after {retry_after_s}s")
        self.retry_after_s = retry_after_s


class TenantRateLimiter:
    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate_per_s
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def admit(self, tenant_id: str, cost: int = 1) -> None:
        """Take `cost` tokens from the tenant's bucket (a batch: one per file). Raises
        RateLimitedError when it holds fewer, taking none."""
        if self._rate <= 0 or cost <= 0:
            return
        now = self._clock()
        bucket = self._buckets.get(tenant_id) or self._new_bucket(tenant_id, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        needed = min(cost, self._burst)  # a cost above the burst could never be admitted
        if bucket.tokens < needed:
            raise RateLimitedError(max(1, math.ceil((needed - bucket.tokens) / self._rate)))
        bucket.tokens -= needed

    def _new_bucket(self, tenant_id: str, now: float) -> _Bucket:
        if len(self._buckets) >= _MAX_TRACKED_TENANTS:
            self._forget_full_buckets(now)
        bucket = self._buckets[tenant_id] = _Bucket(float(self._burst), now)
        return bucket

    def _forget_full_buckets(self, now: float) -> None:
        """A bucket refilled to the brim is the same as a new one: drop it to bound memory."""
        refill_s = self._burst / self._rate
        for tenant_id in [t for t, b in self._buckets.items() if now - b.updated >= refill_s]:
            del self._buckets[tenant_id]
