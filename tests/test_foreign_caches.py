"""The program's own functools.lru_cache caches, found and read: not the libraries', not ours."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.scripted import FakeClock
from tui_perf.engine.foreign_caches import ForeignCaches, cache_kind

USER_MODULE = """
import functools


@functools.lru_cache(maxsize=32)
def price(item):
    return len(item) * 3


@functools.cache
def unbounded(n):
    return n * n


class Catalog:
    @functools.lru_cache(maxsize=8)
    def lookup(self, key):
        return key.upper()

    @staticmethod
    @functools.lru_cache(maxsize=4)
    def normalise(text):
        return text.strip()


def plain(x):
    return x


from tui_perf import cached


@cached(maxsize=8, name="shop.ours")
def ours(x):
    return x
"""


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[object]:
    (tmp_path / "shop_module.py").write_text(USER_MODULE)
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("shop_module")
        yield module
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("shop_module", None)


def test_the_programs_own_caches_are_found_and_read_through_cache_info(shop: object) -> None:
    for item in ("a", "bb", "a", "a"):
        shop.price(item)  # type: ignore[attr-defined]
    shop.Catalog.normalise(" x ")  # type: ignore[attr-defined]
    found = {c.name: c for c in ForeignCaches(clock=FakeClock()).stats()}
    price = found["shop_module.price"]
    (tier,) = price.tiers
    assert (tier.kind, tier.hits, tier.misses, tier.size, tier.maxsize) == (
        "lru_cache",
        2,
        2,
        2,
        32,
    )
    assert price.hit_rate == 0.5  # hits over lookups
    assert found["shop_module.unbounded"].tiers[0].maxsize is None
    assert found["shop_module.Catalog.lookup"].tiers[0].maxsize == 8
    assert found["shop_module.Catalog.normalise"].tiers[0].misses == 1
    assert "shop_module.plain" not in found
    # a function under tui_perf's own `cached` is registered already, under its name: it
    # must not show a second time as a foreign cache
    assert "shop_module.ours" not in found
    # the standard library's and installed packages' caches are not the program's
    assert not any(name.startswith(("functools.", "re.", "rich.", "textual.")) for name in found)
    assert not any(name.startswith("tui_perf") for name in found)


def test_discovery_looks_again_soon_at_first_then_every_interval(shop: object) -> None:
    clock = FakeClock(0)
    caches = ForeignCaches(interval=30, clock=clock)
    seen = []
    for second in range(0, 120):
        clock.now = float(second)
        before = caches.discoveries
        caches.stats()
        if caches.discoveries > before:
            seen.append(second)
    # a program run under `run` defines its caches after the agent starts: 1, 2, 5, 10 s
    assert seen == [0, 1, 3, 8, 18, 48, 78, 108]


def test_counters_are_read_each_tick_between_discoveries(shop: object) -> None:
    clock = FakeClock(0)
    caches = ForeignCaches(interval=30, clock=clock)
    caches.stats()
    for key in ("zzz", "zzz"):
        shop.price(key)  # type: ignore[attr-defined]
    clock.advance(0.5)
    (price,) = [c for c in caches.stats() if c.name == "shop_module.price"]
    assert caches.discoveries == 1 and price.tiers[0].misses == 1 and price.tiers[0].hits == 1


def test_lru_evictions_are_counted_exactly(shop: object) -> None:
    cached = shop.Catalog.normalise  # type: ignore[attr-defined]  # maxsize 4
    for i in range(10):
        cached(f" {i} ")
    found = {c.name: c for c in ForeignCaches(clock=FakeClock()).stats()}
    tier = found["shop_module.Catalog.normalise"].tiers[0]
    assert (tier.misses, tier.size, tier.evictions) == (10, 4, 6)


def test_only_caches_with_counters_are_caches() -> None:
    from cachetools import LRUCache, cached

    @cached(LRUCache(10), info=True)
    def counted(x: int) -> int:
        return x

    class Proxy:  # a module attribute whose attribute access raises (a request proxy)
        def __getattr__(self, name: str) -> object:
            raise RuntimeError("working outside of a request")

    assert cache_kind(functools.lru_cache(maxsize=2)(len)) == "lru_cache"
    assert cache_kind(counted) == "cachetools"
    assert cache_kind(len) is None and cache_kind(functools.partial(len)) is None
    assert cache_kind(Proxy()) is None  # looked at without touching its attributes


def test_an_engine_over_the_programs_registry_shows_them_in_its_snapshot(shop: object) -> None:
    from tui_perf.engine.core import Engine, EngineConfig

    shop.price("a")  # type: ignore[attr-defined]
    names = [c.name for c in Engine(EngineConfig()).tick().caches]
    assert "shop_module.price" in names
    off = Engine(EngineConfig(discover_caches_s=None)).tick().caches
    assert "shop_module.price" not in [c.name for c in off]
