"""Request rate limits: a token bucket per key (a tenant, a client address), held in this
process.

Each gateway replica counts on its own, so N replicas admit up to N times the configured rate;
a deployment that needs one global limit puts a shared counter (Redis, the ingress) in front.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

_MAX_TRACKED_KEYS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimitedError(Exception):
    def __init__(self, retry_after_s: int, whose: str = "tenant") -> None:
        super().__init__(f"rate limited; retry after {retry_after_s}s")
        self.retry_after_s = retry_after_s
        self.whose = whose


class RateLimiter:
    """`whose`: what a key is (tenant, client address), named in the refusal."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        whose: str = "tenant",
    ) -> None:
        self._whose = whose
        self._rate = rate_per_s
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def admit(self, key: str, cost: int = 1) -> None:
        """Take `cost` tokens from the key's bucket (a batch: one per file). Raises
        RateLimitedError when it holds fewer, taking none."""
        if self._rate <= 0 or cost <= 0:
            return
        now = self._clock()
        bucket = self._buckets.get(key) or self._new_bucket(key, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        needed = min(cost, self._burst)  # a cost above the burst could never be admitted
        if bucket.tokens < needed:
            retry_after_s = max(1, math.ceil((needed - bucket.tokens) / self._rate))
            raise RateLimitedError(retry_after_s, self._whose)
        bucket.tokens -= needed

    def _new_bucket(self, key: str, now: float) -> _Bucket:
        if len(self._buckets) >= _MAX_TRACKED_KEYS:
            self._forget_full_buckets(now)
        bucket = self._buckets[key] = _Bucket(float(self._burst), now)
        return bucket

    def _forget_full_buckets(self, now: float) -> None:
        """A bucket refilled to the brim is the same as a new one: drop it to bound memory."""
        refill_s = self._burst / self._rate
        for key in [k for k, b in self._buckets.items() if now - b.updated >= refill_s]:
            del self._buckets[key]


# Liveness and readiness probes come from the cluster, not from clients.
_UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})


def per_client_address(limiter: RateLimiter) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware: one token per request from the client address's bucket, before the body is
    read or the token checked, so unauthenticated floods are limited too. The address is the
    connection's peer, or the X-Forwarded-For entry a trusted proxy added (uvicorn's
    forwarded_allow_ips: INTAKE_FORWARDED_ALLOW_IPS)."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def limited(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == ScopeType.HTTP and scope["path"] not in _UNLIMITED_PATHS:
                client = scope.get("client")
                limiter.admit(client[0] if client else "unknown")
            await app(scope, receive, send)

        return limited

    return wrap
