"""What `tui-perf top` shows of each process: pure functions from a `MemberView` to a row."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tui_perf.model.advice import severity_rank
from tui_perf.model.format import fmt_bytes, fmt_percent
from tui_perf.model.snapshot import Snapshot
from tui_perf.views.history import TIER_RANK

STATUS_RANK = {"live": 0, "connecting": 1, "lost": 2, "gone": 3}
#: the sort keys `s` cycles through, and what each is called on screen
SORTS = ("tier", "rss", "cpu", "gc", "cache", "pid")
SORT_NAMES = {
    "tier": "tier, then RSS",
    "rss": "RSS",
    "cpu": "CPU",
    "gc": "GC time",
    "cache": "worst hit rate",
    "pid": "pid",
}
SPARK = "▁▂▃▄▅▆▇█"
#: a slope under this (bytes a minute) is not shown
SLOPE_SHOWN = 256 * 1024
#: the bars span at least this share of the highest value: a flat process reads flat,
#: not as a full-height climb of a few hundred KiB
SPARK_MIN_SPAN = 0.05


@dataclass(frozen=True, slots=True)
class MemberView:
    """One member as the table shows it, at one moment."""

    address: str
    pid: int | None
    command: str
    status: str  # connecting, live, lost, gone
    reason: str
    since_s: float  # seconds in this status
    latest: Snapshot | None
    rss: tuple[int, ...]  # oldest first
    rss_times: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class FleetRow:
    """One process's line; the figures stay numbers so rows sort by them."""

    key: str
    pid: int | None
    command: str
    status: str
    status_text: str
    tier: str
    rss: int | None
    trend: str
    rss_per_min: float | None  # bytes a minute over the trend window
    cpu: float | None  # percent of one core
    gc_share: float | None
    worst_cache: str
    worst_hit_rate: float | None
    pools: str
    pools_bad: int
    finding: str
    finding_rank: int  # -1 none, 0 info, 1 warning, 2 critical

    def trend_text(self) -> str:
        """The bars, and the slope when it is more than noise (256 KiB a minute, 15 MiB an
        hour), to two figures so the column does not churn every second."""
        if self.rss_per_min is None or abs(self.rss_per_min) < SLOPE_SHOWN:
            return self.trend
        sign = "+" if self.rss_per_min > 0 else "-"
        return f"{self.trend} {sign}{bytes_two_figures(abs(self.rss_per_min))}/min"

    def cells(self) -> list[str]:
        """The row as text, in `COLUMNS` order."""
        return [
            str(self.pid) if self.pid is not None else "?",
            self.command,
            self.tier or "—",
            fmt_bytes(self.rss) if self.rss is not None else "—",
            self.trend_text(),
            f"{self.cpu:.0f}%" if self.cpu is not None else "—",
            fmt_percent(self.gc_share, 1) if self.gc_share is not None else "—",
            (
                f"{fmt_percent(self.worst_hit_rate, 0)} {self.worst_cache}"
                if self.worst_hit_rate is not None
                else "—"
            ),
            self.pools,
            self.finding or "—",
            self.status_text,
        ]


COLUMNS = (
    "pid",
    "command",
    "tier",
    "RSS",
    "trend",
    "CPU",
    "GC",
    "worst cache",
    "pools",
    "advice",
    "status",
)
#: what a narrow terminal gives up first
DROP_FIRST = ("trend", "pools", "GC", "worst cache", "advice")


def fleet_row(member: MemberView) -> FleetRow:
    snap = member.latest
    worst_cache, worst_rate = "", None
    pools, pools_bad = "—", 0
    finding, finding_rank = "", -1
    tier, rss, cpu, gc_share = "", None, None, None
    if snap is not None:
        tier, rss = snap.tier, snap.memory.rss
        cpu = snap.memory.cpu_percent
        gc_share = snap.gc.gc_time_fraction if snap.gc is not None else None
        rated = [(c.hit_rate, c.name) for c in snap.caches if c.hit_rate is not None]
        if rated:
            worst_rate, worst_cache = min(rated)
        if snap.pools:
            bad = [p for p in snap.pools if not p.healthy or p.leaks]
            pools_bad = len(bad)
            pools = (
                f"{len(snap.pools)} ok" if not bad else f"{bad[0].name}: {bad[0].reason or 'leaks'}"
            )
        worst = snap.advice.worst if snap.advice is not None else None
        if worst is not None:
            finding, finding_rank = (
                f"{worst.severity}: {worst.title}",
                severity_rank(worst.severity),
            )
    return FleetRow(
        key=member.address,
        pid=member.pid,
        command=member.command,
        status=member.status,
        status_text=status_text(member),
        tier=tier,
        rss=rss,
        trend=sparkline(member.rss),
        rss_per_min=slope_per_min(member.rss_times, member.rss),
        cpu=cpu,
        gc_share=gc_share,
        worst_cache=worst_cache,
        worst_hit_rate=worst_rate,
        pools=pools,
        pools_bad=pools_bad,
        finding=finding,
        finding_rank=finding_rank,
    )


def status_text(member: MemberView) -> str:
    seconds = int(member.since_s)
    if member.status == "live":
        return "live"
    if member.status == "connecting":
        return f"connecting… ({member.reason})" if member.reason else "connecting…"
    if member.status == "lost":
        why = f" ({member.reason})" if member.reason not in ("", "reconnecting") else ""
        return f"lost {seconds}s ago, reconnecting{why}"
    return f"gone {seconds}s ago"


def sparkline(values: Sequence[int], width: int = 8) -> str:
    """The last values as bars, over their range or `SPARK_MIN_SPAN` of the highest,
    whichever is wider."""
    if not values:
        return ""
    step = max(1, len(values) // width)
    points = [max(values[i : i + step]) for i in range(0, len(values), step)][-width:]
    lo, hi = min(points), max(points)
    span = max(hi - lo, hi * SPARK_MIN_SPAN)
    if span <= 0:
        return SPARK[0] * len(points)
    return "".join(SPARK[int((v - lo) / span * (len(SPARK) - 1))] for v in points)


def bytes_two_figures(n: float) -> str:
    """Bytes in the largest unit under them, to two significant figures: "720 KiB"."""
    unit, value = "B", n
    for name, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            unit, value = name, n / size
            break
    if value > 0:
        value = round(value, 1 - math.floor(math.log10(value)))
    return f"{value:g} {unit}"


#: a slope needs this many seconds of points: two points a second apart make a minute's
#: rate out of one allocation
SLOPE_MIN_SPAN_S = 15.0


def slope_per_min(times: Sequence[float], values: Sequence[int]) -> float | None:
    """Least-squares slope in units a minute; None over less than `SLOPE_MIN_SPAN_S`."""
    n = len(values)
    if n < 2 or len(times) != n or times[-1] - times[0] < SLOPE_MIN_SPAN_S:
        return None
    mt, mv = sum(times) / n, sum(values) / n
    var = sum((t - mt) ** 2 for t in times)
    if var == 0:
        return None
    return sum((t - mt) * (v - mv) for t, v in zip(times, values, strict=True)) / var * 60


def sort_rows(rows: Sequence[FleetRow], key: str, reverse: bool = False) -> list[FleetRow]:
    """Most worrying first for every key but pid; gone ones last whatever the key."""

    # By the figures as shown (RSS to 0.1 MiB, CPU to 1%, GC to 0.1%): rows whose shown
    # figures tie keep their pid order instead of trading places every second for bytes.
    def worry(row: FleetRow) -> tuple[float, ...]:
        rss = round((row.rss or 0) / 2**20, 1)
        if key == "pid":
            return (row.pid if row.pid is not None else 1 << 62,)
        if key == "tier":
            figure: tuple[float, ...] = (-TIER_RANK.get(row.tier, -1), -rss)
        elif key == "rss":
            figure = (-rss,)
        elif key == "cpu":
            figure = (-round(row.cpu or 0.0),)
        elif key == "gc":
            figure = (-round((row.gc_share or 0.0) * 1000),)
        else:  # cache: the lowest hit rate first, processes without caches last
            rate = row.worst_hit_rate
            figure = (round(rate * 100) if rate is not None else 200,)
        return figure

    ordered = sorted(rows, key=lambda r: (*worry(r), r.pid or 0), reverse=False)
    if reverse:
        ordered.reverse()
    live = [r for r in ordered if r.status != "gone"]
    return live + [r for r in ordered if r.status == "gone"]


def fleet_summary(rows: Sequence[FleetRow], sort: str, reverse: bool = False) -> str:
    """The line above the table."""
    if not rows:
        return (
            "no agents running as this user: start one with 'tui-perf run app.py' or "
            "tui_perf.agent.start(), or give HOST:PORT --token T"
        )
    counts = {s: sum(1 for r in rows if r.status == s) for s in STATUS_RANK}
    parts = [f"{len(rows)} process{'' if len(rows) == 1 else 'es'}", f"{counts['live']} live"]
    if counts["lost"]:
        parts.append(f"{counts['lost']} lost")
    if counts["gone"]:
        parts.append(f"{counts['gone']} gone")
    high = sum(1 for r in rows if TIER_RANK.get(r.tier, 0) >= 2 and r.status != "gone")
    if high:
        parts.append(f"{high} at HIGH or above")
    parts.append(f"sorted by {SORT_NAMES[sort]}{', reversed' if reverse else ''} (s, r)")
    return " · ".join(parts)
