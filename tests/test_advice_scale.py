"""A rules check costs in proportion to the caches and pools watched, not its square: counted
as reads of the stats objects' fields, not timed (issue #32: `Window.caches(name)` scanned
every snapshot's list for each name, 3.3 s a check at 1,000 caches)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from tests.test_advice_rules import GROWING, curve, findings, snap
from tui_perf.advice import AdviceSettings, Advisor, Window
from tui_perf.advice.rules import PoolIdle
from tui_perf.model.snapshot import CacheStats, PoolStats, TierStats

W = 60  # snapshots in the window
READS = [0]


class CountedCache(CacheStats):
    __slots__ = ()

    def __getattribute__(self, attr: str) -> Any:
        READS[0] += 1
        return super().__getattribute__(attr)


class CountedPool(PoolStats):
    __slots__ = ()

    def __getattribute__(self, attr: str) -> Any:
        READS[0] += 1
        return super().__getattribute__(attr)


def members_window(n: int) -> Window:
    snaps = []
    for i in range(W):
        caches = tuple(
            CountedCache(
                f"c{j:04d}",
                (TierStats("L1", "lru", hits=60 * i, misses=40 * i, evictions=9 * i, size=1000),),
            )
            for j in range(n)
        )
        pools = tuple(
            CountedPool(f"p{j:04d}", "object", idle=4 + j % 7, requests=500, max_size=8)
            for j in range(n)
        )
        snaps.append(snap(i, caches=caches, pools=pools))
    curves = {f"c{j:04d}": curve(f"c{j:04d}", points=GROWING) for j in range(n)}
    return Window(tuple(snaps), MappingProxyType(curves))


def reads(action: Any) -> int:
    READS[0] = 0
    action()
    return READS[0]


def test_looking_every_member_up_by_name_reads_each_reading_a_bounded_number_of_times() -> None:
    for n in (50, 200):
        w = members_window(n)
        names = [c.name for c in w.last.caches] + [p.name for p in w.last.pools]
        count = reads(lambda w=w, names=names: [(w.caches(x), w.pools(x)) for x in names])
        # one pass per snapshot: each of the 2 x n x W readings read about once (its name);
        # a scan per name read n / 2 of them per snapshot for each name
        assert count <= 2 * 2 * n * W


def test_a_rules_check_grows_linearly_with_the_members_watched() -> None:
    settings = AdviceSettings(max_series_per_check=20)
    small = members_window(50)
    big = members_window(200)
    count_small = reads(lambda: Advisor(settings=settings).check(small))
    count_big = reads(lambda: Advisor(settings=settings).check(big))
    # four times the members: about four times the reads (a quadratic check: sixteen)
    assert count_big <= 4.5 * count_small
    # and far below the whole window per member: the rules read each member's ends
    assert count_big <= 0.5 * 2 * 200 * W * 10


def test_a_rule_that_reads_whole_series_visits_a_bounded_number_worst_first() -> None:
    w = members_window(50)
    found = findings(PoolIdle(AdviceSettings(max_series_per_check=10)), w)
    assert len(found) == 10
    # the pools holding the most idle objects (10, at j % 7 == 6) come first
    assert all(f.subject in {f"p{j:04d}" for j in range(50) if j % 7 == 6} for f in found[:7])
    assert min(int(dict(f.evidence)["idle (last)"]) for f in found) == 9
