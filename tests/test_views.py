"""Pure data shaping for the panes."""

from __future__ import annotations

from tests.helpers.dashboard import history, snapshot
from tui_perf.model.snapshot import Event
from tui_perf.views.caches import hit_rate_series, overall_hit_rate
from tui_perf.views.events import filter_events
from tui_perf.views.history import History, downsample_max
from tui_perf.views.overview import WidgetStats, widgets_line
from tui_perf.views.pools import pool_health


def test_downsampling_keeps_peaks_and_never_adds_points() -> None:
    xs = tuple(float(i) for i in range(600))
    ys = tuple(float(i % 50) for i in range(600))
    dx, dy = downsample_max(xs, ys, 100)
    assert len(dx) == 100
    buckets = [ys[b * 6 : (b + 1) * 6] for b in range(100)]  # 600 points, 6 per bucket
    assert list(dy) == [max(bucket) for bucket in buckets]
    assert all(ys[int(x)] == y for x, y in zip(dx, dy, strict=True))  # real points, not made up
    assert downsample_max(xs[:10], ys[:10], 100) == (xs[:10], ys[:10])


def test_hit_rate_series_is_per_interval_not_cumulative() -> None:
    h = History()
    for snap in history(5):
        h.add(snap)
    series = hit_rate_series(h, "users.profile")
    # users.profile gains 800+120 hits per 1000 lookups each interval (L1 then L2).
    assert [round(y or 0, 1) for y in series.y] == [92.0] * 4
    assert series.x[-1] == 0.0 and series.x[0] == -3.0


def test_overall_hit_rate_and_pool_health() -> None:
    snap = snapshot(3, leak=True)
    lookups = sum(c.lookups for c in snap.caches)
    assert overall_hit_rate(snap.caches) == sum(c.hits for c in snap.caches) / lookups
    healthy, total, problem = pool_health(snap.pools)
    assert (healthy, total) == (1, 2) and problem.startswith("buffers: 1 leaked")


def test_event_filter_matches_kind_level_and_text_newest_first() -> None:
    events = [
        Event(1.0, "tier", "NORMAL -> HIGH", "warning"),
        Event(2.0, "gc", "strategy"),
        Event(3.0, "cleanup", "manual cleanup"),
    ]
    assert [e.timestamp for e in filter_events(events)] == [3.0, 2.0, 1.0]
    assert [e.kind for e in filter_events(events, "WARN")] == ["tier"]
    assert [e.kind for e in filter_events(events, "clean")] == ["cleanup"]


def test_history_is_bounded() -> None:
    h = History(size=10)
    for snap in history(25):
        h.add(snap)
    assert len(h.snapshots) == 10 and h.latest is not None and h.latest.seq == 25
    assert len(h.events) == 2  # events accumulate beyond the snapshot window


def test_the_bench_summary_speaks_of_this_target_not_of_the_history_files_past() -> None:
    from tui_perf.model.snapshot import BenchResult
    from tui_perf.views.bench import bench_view

    h = History()
    for snap in history(2):
        h.add(snap)
    # runs of another program, read from the history file at start-up
    h.bench["json_round_trip"] = [BenchResult("json_round_trip", "g", (1e-6,), 1, 1e-6, 0.0)]
    assert bench_view(h).last_verdict == ""
    assert [r.name for r in bench_view(h).rows] == ["json_round_trip"]  # still listed
    fresh = BenchResult("cache_hit", "g", (2e-7,), 1, 2e-7, 0.0, "no baseline yet")
    h.add(snapshot(3, bench=(fresh,)))
    assert bench_view(h).last_verdict == "1 measured, no baseline yet"


def test_tier_lines_are_drawn_only_near_the_data_and_named_when_far() -> None:
    from tui_perf.views.memory import thresholds_near

    colours = ("yellow", "orange", "red")
    # a small program under a 12 GiB budget: RSS 80 MiB, thresholds in GiB
    lines, note = thresholds_near([8602.0, 10445.0, 11674.0], [70.0, 80.0, None], colours)
    assert lines == () and note == "ELEVATED at 8.4 GiB, above the chart"
    # a program near its budget: every line is in range and nothing is said
    lines, note = thresholds_near([358.4, 435.2, 486.4], [300.0, 485.0], colours)
    assert [c for _, c in lines] == ["yellow", "orange", "red"] and note == ""
    assert thresholds_near([100.0], [], colours) == ((), "")


def test_narrow_tables_give_up_whole_columns_in_the_stated_order() -> None:
    from tui_perf.views.columns import columns_that_fit

    labels = ("pool", "kind", "reuse", "timeouts", "leaks")
    rows = [["buffers", "aiosqlite", "99%", "0", "0"]]
    # natural widths with 2 of padding: 9, 11, 7, 10, 7 = 44
    assert columns_that_fit(labels, ("kind", "reuse"), rows, 44) == labels
    assert columns_that_fit(labels, ("kind", "reuse"), rows, 40) == (
        "pool",
        "reuse",
        "timeouts",
        "leaks",
    )
    assert columns_that_fit(labels, ("kind", "reuse"), rows, 20) == ("pool", "timeouts", "leaks")
    assert columns_that_fit(labels, ("kind",), rows, 0) == labels  # not laid out yet: all


def test_failed_benchmarks_of_the_last_run_are_named_in_the_bench_view() -> None:
    from tui_perf.views.bench import bench_view

    h = History()
    for snap in history(2):
        h.add(snap)
    h.events.extend(
        [
            Event(1.0, "bench", "old_one failed: ValueError: long ago", "error"),
            Event(2.0, "bench", "benchmark run: 7 done", "info"),
            Event(3.0, "bench", "sqlite_insert_100[mode=single] failed: OperationalError", "error"),
            Event(4.0, "bench", "benchmark run: 7 done", "info"),
        ]
    )
    assert bench_view(h).failed == ("sqlite_insert_100[mode=single] failed: OperationalError",)
    h.events.append(Event(5.0, "bench", "benchmark run: 8 done", "info"))  # a clean run
    assert bench_view(h).failed == ()


def test_the_overview_names_the_commonest_widget_types_first() -> None:
    stats = WidgetStats(
        32, (("CachesPane", 1), ("Chart", 9), ("InfoBlock", 18), ("Timeline", 1), ("X", 3))
    )
    assert widgets_line(stats) == "32 widgets · InfoBlock 18, Chart 9, X 3, +2 types"
    assert widgets_line(WidgetStats(1, (("Chart", 1),))) == "1 widget · Chart 1"
    assert widgets_line(WidgetStats(0, ())) == "0 widgets"
