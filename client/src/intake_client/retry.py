"""Bounded retries with exponential backoff and full jitter, for errors a retry can fix."""

import random
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from intake_client.errors import GatewayUnreachableError, IntakeApiError

T = TypeVar("T")


class RetryPolicy:
    """`attempts` tries in all; the wait before try n+1 is uniform in [0, min(cap, base·2ⁿ)].

    A plain class, not a dataclass: the `intake` command builds one before its first request,
    and dataclasses would cost that request tens of milliseconds of imports (cli.py).
    """

    __slots__ = ("attempts", "base_s", "cap_s", "rng")

    def __init__(
        self,
        attempts: int = 6,
        base_s: float = 0.25,
        cap_s: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.attempts, self.base_s, self.cap_s = attempts, base_s, cap_s
        self.rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"RetryPolicy(attempts={self.attempts}, base_s={self.base_s}, cap_s={self.cap_s})"

    def delay(self, attempt: int) -> float:
        """The wait after failed try number `attempt` (1-based); full jitter spreads retries."""
        ceiling = min(self.cap_s, self.base_s * (2 ** (attempt - 1)))
        return self.rng.uniform(0, ceiling)

    def run_blocking(
        self,
        call: Callable[[], T],
        retryable: Callable[[BaseException], bool] | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> T:
        """Run `call`, retrying failures `retryable` accepts; the last failure propagates, also
        when `stop` is set during a wait. Blocks: async code runs it on a thread (api.Call)."""
        accept = retryable or is_retryable
        stop = stop or threading.Event()
        attempt = 1
        while True:
            try:
                return call()
            except Exception as error:
                if attempt >= self.attempts or not accept(error):
                    raise
                if stop.wait(self.delay(attempt)):
                    raise
                attempt += 1


class RetryableStatusError(Exception):
    """S3 answered 5xx (or 429): the request may succeed when sent again."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"storage answered {status}: {body[:200]}")
        self.status = status


class StorageUnreachableError(Exception):
    """The connection to S3 failed mid-request (refused, reset, timed out): send it again."""


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, IntakeApiError):
        return error.retryable
    retryable = (GatewayUnreachableError, RetryableStatusError, StorageUnreachableError)
    return isinstance(error, retryable) or _is_network(error)


def _is_network(error: BaseException) -> bool:
    """A failure of httpx's network layer (S3 transfers), which a fresh attempt can get past;
    protocol misuse (e.g. a bad URL) is not one. Told without importing httpx: the gateway's
    calls do not use it, and none of its errors can exist before it is imported."""
    httpx = sys.modules.get("httpx")
    return httpx is not None and isinstance(error, httpx.TransportError)


def is_retryable_status(status: int) -> bool:
    return status >= 500 or status == 429
