"""Signing keys from a JWKS endpoint, fetched off the request path and kept while it is down.

Requests never wait on the identity provider for a key they know: keys are refreshed in the
background. A token naming an unknown key (a rotation) triggers one fetch, at most once per
interval, bounded by a short timeout, and never on the event loop's thread in a blocking way.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from intake_runtime.tasks import stop_task

log = logging.getLogger(__name__)


class JwksCache:
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float,
        refresh_s: float,
        unknown_kid_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._refresh_s = refresh_s
        self._unknown_kid_interval_s = unknown_kid_interval_s
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._last_fetch = float("-inf")
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._http = httpx.AsyncClient(timeout=self._timeout_s)
        await self.refresh()  # best effort: a provider down at start-up is retried
        self._task = asyncio.create_task(self._refresh_forever(), name="jwks-refresh")

    async def stop(self) -> None:
        await stop_task(self._task)
        if self._http is not None:
            await self._http.aclose()

    async def key(self, kid: str | None) -> Any:
        """The key named `kid` (or the only key, when the token names none), else None."""
        found = self._find(kid)
        if found is None and self._may_refetch():
            async with self._lock:
                if self._find(kid) is None and self._may_refetch():
                    await self.refresh()
            found = self._find(kid)
        return found

    def _find(self, kid: str | None) -> Any:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _may_refetch(self) -> bool:
        return self._clock() - self._last_fetch >= self._unknown_kid_interval_s

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            async with self._lock:
                await self.refresh()

    async def refresh(self) -> None:
        """Replace the keys with the provider's; on any failure keep the stale ones."""
        assert self._http is not None  # noqa: S101 - start() opened it
        self._last_fetch = self._clock()
        try:
            answer = await self._http.get(self._url)
            answer.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(answer.json()).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as error:
            log.warning(
                "JWKS fetch failed; keeping %d known keys",
                len(self._keys),
                extra={"error": str(error)},
            )
            return
        self._keys = {key.key_id or "": key.key for key in keys}
