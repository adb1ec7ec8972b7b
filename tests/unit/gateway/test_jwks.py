"""The JWKS cache against an endpoint served by the test: caching, stale keys, rate limit."""

import asyncio

from intake_gateway.jwks import JwksCache
from tests.support.jwks import Provider, SigningKey, serve_jwks


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache(provider: Provider, clock: Clock, timeout_s: float = 5.0) -> JwksCache:
    return JwksCache(
        provider.url,
        timeout_s=timeout_s,
        refresh_s=3600,
        unknown_kid_interval_s=30,
        clock=clock,
    )


async def test_known_keys_are_served_from_the_cache_and_kept_while_the_provider_fails() -> None:
    key = SigningKey()
    with serve_jwks(Provider([key])) as provider:
        clock = Clock()
        keys = cache(provider, clock)
        await keys.start()
        try:
            assert await keys.key(key.kid) is not None
            provider.mode = "fail"
            clock.now += 60
            await keys.refresh()
            assert provider.requests == 2
            assert await keys.key(key.kid) is not None  # stale, but kept
            assert provider.requests == 2  # a known key never waits on the provider
        finally:
            await keys.stop()


async def test_unknown_key_ids_refetch_at_most_once_per_interval() -> None:
    old, rotated = SigningKey(), SigningKey()
    with serve_jwks(Provider([old])) as provider:
        clock = Clock()
        keys = cache(provider, clock)
        await keys.start()
        try:
            assert provider.requests == 1
            assert await keys.key("nobody") is None
            assert provider.requests == 1  # the start-up fetch was just now
            clock.now += 31
            provider.keys.append(rotated)
            assert await keys.key(rotated.kid) is not None
            assert provider.requests == 2
            for _ in range(20):
                assert await keys.key("nobody") is None
            assert provider.requests == 2
        finally:
            await keys.stop()


async def test_a_hanging_provider_costs_one_timeout_and_blocks_no_other_work() -> None:
    with serve_jwks(Provider([SigningKey()], mode="hang")) as provider:
        keys = cache(provider, Clock(), timeout_s=0.5)
        started = asyncio.create_task(keys.start())
        ticks = 0
        while not started.done():  # the event loop keeps running while the fetch waits
            ticks += 1
            await asyncio.sleep(0.01)
        try:
            assert ticks > 0
            assert await keys.key(None) is None  # no key yet, and no exception
        finally:
            await keys.stop()
