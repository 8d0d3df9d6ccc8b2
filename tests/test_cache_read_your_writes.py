"""Read-your-writes under write-behind (#29, defect 5): a key with a queued or in-flight write
is answered from that write, never from L2's older value, and a delete made during the
flight wins. The batch is held in flight by a real SQLite tier whose `set_many` waits on
events before and after it writes, so each window is reached deterministically."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tui_perf.caches.l2 import Item
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.caches.sqlite_tier import SQLiteTier
from tui_perf.engine.registry import Registry


class HeldTier(SQLiteTier):
    """A SQLite tier whose next batch, once armed, stops before and after it is written."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.armed = False
        self.before, self.after = threading.Event(), threading.Event()  # reached
        self.write, self.finish = threading.Event(), threading.Event()  # let it go on

    def set_many(self, items: Iterable[Item]) -> None:
        items = list(items)
        if not self.armed:
            super().set_many(items)
            return
        self.armed = False
        self.before.set()
        assert self.write.wait(10)
        super().set_many(items)
        self.after.set()
        assert self.finish.wait(10)


class Flight:
    """A flush on another thread, held by the tier; `land()` lets it finish."""

    def __init__(self, cache: MultiLevelCache, tier: HeldTier) -> None:
        self.tier = tier
        tier.armed = True
        self.thread = threading.Thread(target=cache.flush)
        self.thread.start()
        assert tier.before.wait(10)  # the batch is taken: the queue is empty, L2 not written

    def written(self) -> None:
        self.tier.write.set()
        assert self.tier.after.wait(10)  # L2 has the batch; its replay has not run

    def land(self) -> None:
        self.tier.write.set()
        self.tier.finish.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[MultiLevelCache, HeldTier]]:
    tier = HeldTier(tmp_path / "c.db")
    cache = MultiLevelCache(
        "rw", l2=tier, write_behind=True, flush_interval=3600, registry=Registry()
    )
    cache.set("k", "old")
    cache.flush()  # L2 holds the old value
    cache.set("k", "new")  # queued
    yield cache, tier
    tier.write.set()
    tier.finish.set()
    cache.close()


def _fresh(tmp_path: Path) -> MultiLevelCache:
    """Another process's view of the same file."""
    return MultiLevelCache("rw", l2=SQLiteTier(tmp_path / "c.db"), registry=Registry())


def test_a_queued_write_is_read_back_not_l2s_older_value(
    held: tuple[MultiLevelCache, HeldTier],
) -> None:
    cache, _ = held
    cache.clear_local()  # an L1 eviction
    assert cache.get("k") == "new"


def test_a_read_during_the_flight_gets_the_write_in_flight_and_keeps_it(
    held: tuple[MultiLevelCache, HeldTier], tmp_path: Path
) -> None:
    cache, tier = held
    flight = Flight(cache, tier)
    cache.clear_local()
    assert cache.get("k") == "new"  # was L2's "old", promoted into L1
    assert asyncio.run(cache.aget("k")) == "new"
    flight.land()
    assert cache.get("k") == "new"  # and L1 kept the new one after the batch landed
    assert _fresh(tmp_path).get("k") == "new"


def test_a_delete_during_the_flight_wins_in_every_tier(
    held: tuple[MultiLevelCache, HeldTier], tmp_path: Path
) -> None:
    cache, tier = held
    flight = Flight(cache, tier)
    assert cache.delete("k") is True
    assert cache.get("k") is None
    flight.written()  # the batch wrote "new" over the delete; its replay is still to come
    assert cache.get("k") is None  # was "new", read back from L2 and kept in L1
    assert asyncio.run(cache.aget("k")) is None
    flight.land()
    assert cache.get("k") is None
    assert "k" not in cache
    assert _fresh(tmp_path).get("k") is None


def test_a_write_after_the_delete_in_flight_is_the_one_read(
    held: tuple[MultiLevelCache, HeldTier], tmp_path: Path
) -> None:
    cache, tier = held
    flight = Flight(cache, tier)
    cache.delete("k")
    cache.set("k", "newer")
    flight.written()
    cache.clear_local()
    assert cache.get("k") == "newer"
    flight.land()
    cache.flush()
    cache.clear_local()
    assert cache.get("k") == "newer"
    assert _fresh(tmp_path).get("k") == "newer"
