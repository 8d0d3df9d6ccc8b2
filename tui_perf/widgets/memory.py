"""Memory: RSS, VMS and USS over time against the tiers, and the cleanup reports."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from tui_perf.model.format import fmt_bytes, fmt_ms, fmt_released
from tui_perf.views.history import TIME_AXIS, MiB
from tui_perf.views.memory import MemoryView, thresholds_near
from tui_perf.widgets.chart import Chart, ChartSpec, Line
from tui_perf.widgets.managed import ManagedWidget, TableRows
from tui_perf.widgets.text import InfoBlock, fields


def memory_chart(view: MemoryView | None) -> ChartSpec:
    title = "memory (MiB)"
    if view is None:
        return ChartSpec(title)
    rss = view.rss_mib.points()
    # VMS is not drawn: address space reserved, not memory used, on another scale; the
    # number beside the chart says it.
    lines = [Line("RSS", *_pts(rss), "cyan")]
    uss = view.uss_mib.points()
    if uss[0]:
        lines.append(Line("USS", *_pts(uss), "green"))
    hlines, note = thresholds_near(
        [t / MiB for t in view.thresholds], rss[1], ("yellow", "orange", "red")
    )
    if hlines:
        title += " · lines: tier thresholds"
    if note:
        title += f" · {note}"
    return ChartSpec(title, TIME_AXIS, tuple(lines), hlines)


def _pts(points: tuple[list[float], list[float]]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return tuple(points[0]), tuple(points[1])


class MemoryPane(ManagedWidget):
    DEFAULT_CSS = """
    MemoryPane { layout: vertical; height: 1fr; }
    MemoryPane #memory-top { height: 1fr; }
    MemoryPane #memory-stats { width: 34; padding: 0 1; }
    MemoryPane #cleanups { height: 10; }
    MemoryPane #cleanups-title { height: auto; max-height: 2; padding: 0 1; text-style: bold; }
    """

    view: reactive[MemoryView | None] = reactive(None, init=False, repaint=False)

    def compose(self) -> ComposeResult:
        with Horizontal(id="memory-top"):
            yield InfoBlock(id="memory-stats")
            yield Chart(memory_chart(None), id="memory-chart")
        yield Static("cleanups: none yet (press e for an emergency cleanup)", id="cleanups-title")
        table: DataTable[str] = DataTable(id="cleanups", cursor_type="row", zebra_stripes=True)
        table.add_columns("when", "rung", "RSS before", "RSS after", "released", "freed", "time")
        yield table

    def on_mount(self) -> None:
        self._rows = TableRows(self.query_one("#cleanups", DataTable))

    def watch_view(self, view: MemoryView | None) -> None:
        """Show the latest memory figures, the chart and the cleanup reports."""
        if view is None:
            return
        names = ("ELEVATED", "HIGH", "CRITICAL")
        rows: list[tuple[str, str | Text]] = [
            ("tier", view.tier),
            ("RSS", fmt_bytes(view.rss)),
            ("VMS", fmt_bytes(view.vms)),
            ("USS", fmt_bytes(view.uss)),
            ("budget", fmt_bytes(view.budget)),
            *((f"  {n}", fmt_bytes(t)) for n, t in zip(names, view.thresholds, strict=False)),
            ("CPU", f"{view.cpu_percent:.0f}%"),
            ("threads", str(view.threads)),
            ("open fds", "—" if view.open_fds is None else str(view.open_fds)),
        ]
        self.query_one("#memory-stats", InfoBlock).set(
            fields(rows), tuple(map(str, rows)), len(rows)
        )
        self.query_one("#memory-chart", Chart).show(memory_chart(view))
        report_rows: list[tuple[str, list[str]]] = []
        for i, report in enumerate(reversed(view.cleanups[-3:])):
            when = datetime.fromtimestamp(report.timestamp).strftime("%H:%M:%S")
            for j, rung in enumerate(report.rungs):
                freed = (
                    fmt_bytes(rung.freed) if rung.unit == "bytes" else f"{rung.freed} {rung.unit}"
                )
                if rung.skipped:
                    freed = f"skipped: {rung.skipped}"  # a plain cell: shown as is
                report_rows.append(
                    (
                        f"{report.timestamp}-{j}-{i}",
                        [
                            when if j == 0 else "",
                            rung.name,
                            fmt_bytes(rung.rss_before),
                            fmt_bytes(rung.rss_after),
                            fmt_released(rung.rss_released),
                            freed,
                            fmt_ms(rung.duration_s * 1000),
                        ],
                    )
                )
        self._rows.sync(report_rows)
        if view.cleanups:
            last = view.cleanups[-1]
            held = ""
            if last.rss_released <= 0 and last.held_by:
                held = " · held by live objects: " + ", ".join(
                    f"{name} x{count:,}" for name, count in last.held_by
                )
            self.query_one("#cleanups-title", Static).update(
                f"cleanups: last {last.trigger} run {last.tier_before} → {last.tier_after}, "
                f"released {fmt_released(last.rss_released)} in "
                f"{fmt_ms(last.duration_s * 1000)}{held}"
            )
