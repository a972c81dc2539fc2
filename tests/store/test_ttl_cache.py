"""The store's answer cache: kept for its ttl, one load per key however many ask at once."""

from __future__ import annotations

import asyncio

import pytest

from calltape.store.ttl_cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Store:
    """A slow store that counts its queries."""

    def __init__(self) -> None:
        self.queries = 0
        self.answer = "v1"
        self.release = asyncio.Event()
        self.fail = False

    async def load(self) -> str:
        self.queries += 1
        await self.release.wait()
        if self.fail:
            raise ConnectionError("store down")
        return self.answer


async def test_a_hundred_concurrent_misses_make_one_query_and_all_get_its_answer() -> None:
    clock, store = Clock(), Store()
    cache = TtlCache(5.0, clock=clock)
    waiters = [asyncio.ensure_future(cache.get("k", store.load)) for _ in range(100)]
    await asyncio.sleep(0)
    store.release.set()
    assert await asyncio.gather(*waiters) == ["v1"] * 100
    assert store.queries == 1
    assert await cache.get("k", store.load) == "v1" and store.queries == 1  # cached
    clock.now = 5.1  # expired: the next ones share one new query
    store.answer = "v2"
    assert await asyncio.gather(*(cache.get("k", store.load) for _ in range(50))) == ["v2"] * 50
    assert store.queries == 2


async def test_a_failed_load_fails_its_waiters_and_the_next_get_tries_again() -> None:
    store = Store()
    cache = TtlCache(5.0, clock=Clock())
    store.fail = True
    waiters = [asyncio.ensure_future(cache.get("k", store.load)) for _ in range(3)]
    await asyncio.sleep(0)
    store.release.set()
    for waiter in waiters:
        with pytest.raises(ConnectionError):
            await waiter
    store.fail = False
    assert await cache.get("k", store.load) == "v1"
    assert store.queries == 2


async def test_a_waiter_given_up_on_does_not_cancel_the_load_for_the_others() -> None:
    store = Store()
    cache = TtlCache(5.0, clock=Clock())
    first = asyncio.ensure_future(cache.get("k", store.load))
    second = asyncio.ensure_future(cache.get("k", store.load))
    await asyncio.sleep(0)
    first.cancel()
    store.release.set()
    assert await second == "v1"
    assert store.queries == 1


async def test_an_answer_loaded_across_a_clear_is_not_kept() -> None:
    store = Store()
    cache = TtlCache(5.0, clock=Clock())
    before = asyncio.ensure_future(cache.get("k", store.load))
    await asyncio.sleep(0)
    cache.clear()  # e.g. the API changed a device while the old answer was being read
    store.release.set()
    assert await before == "v1"
    store.answer = "v2"
    assert await cache.get("k", store.load) == "v2"  # read again, not the answer from before the clear
    assert store.queries == 2
