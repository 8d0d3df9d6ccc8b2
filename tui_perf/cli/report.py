"""Rich tables for the command line, built from telemetry by pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.table import Table

from tui_perf.model.format import fmt_bytes, fmt_ms, fmt_percent
from tui_perf.model.snapshot import Event, Snapshot
from tui_perf.store.history import MemoryPoint, ProcessRow


def snapshot_table(snap: Snapshot, *, own: bool) -> Table:
    """One snapshot as a two-column table, sections separated by rules."""
    m = snap.memory
    table = Table(
        title=f"pid {snap.pid} · {datetime.fromtimestamp(snap.timestamp):%H:%M:%S}",
        show_header=False,
        title_justify="left",
    )
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("RSS", fmt_bytes(m.rss))
    table.add_row("VMS", fmt_bytes(m.vms))
    if m.uss is not None:
        table.add_row("USS", fmt_bytes(m.uss))
        table.add_row("PSS", fmt_bytes(m.pss))
    table.add_row("budget", fmt_bytes(m.budget))
    if m.budget:
        table.add_row("RSS / budget", fmt_percent(m.rss / m.budget))
    table.add_row("CPU", f"{m.cpu_percent:.1f}%")
    table.add_row("threads", str(m.num_threads))
    table.add_row("open fds", "—" if m.open_fds is None else str(m.open_fds))
    table.add_section()
    g = snap.gc
    if g is None:
        table.add_row("GC", "[dim]not visible from outside (needs the agent)[/]")
    else:
        table.add_row("GC", "enabled" if g.enabled else "[yellow]disabled[/]")
        table.add_row("thresholds", " / ".join(map(str, g.thresholds)))
        table.add_row("counts", " / ".join(map(str, g.counts)))
        table.add_row("collections", " / ".join(map(str, g.collections)))
        table.add_row("collected", " / ".join(map(str, g.collected)))
        table.add_row("uncollectable", " / ".join(map(str, g.uncollectable)))
        table.add_row("frozen objects", str(g.frozen))
        if g.pauses:
            table.add_row(
                "pause p50 / p99 / max",
                " / ".join(fmt_ms(x) for x in (g.pause_p50_ms, g.pause_p99_ms, g.pause_max_ms)),
            )
    if own:
        table.add_section()
        table.add_row("caches", str(len(snap.caches)))
        table.add_row("pools", str(len(snap.pools)))
    return table


def history_tables(
    points: list[MemoryPoint],
    events: list[Event],
    processes: Sequence[ProcessRow] = (),
    limit: int | None = 40,
) -> list[Table]:
    """The processes, then the samples and the events, the last `limit` of each (None:
    all), saying so."""
    shown_points = points if limit is None else points[-limit:]
    samples = Table(title=f"memory · {len(points)} samples", title_justify="left")
    for col in ("time", "pid", "RSS", "peak RSS", "CPU", "tier", "resolution"):
        samples.add_column(col, justify="right" if col not in ("time", "tier") else "left")
    for p in shown_points:
        samples.add_row(
            f"{datetime.fromtimestamp(p.ts):%H:%M:%S}",
            str(p.pid),
            fmt_bytes(p.rss),
            fmt_bytes(p.rss_max),
            f"{p.cpu_percent:.1f}%",
            p.tier,
            "raw" if p.resolution == 0 else f"{p.resolution:.0f} s",
        )
    if not points:
        samples.caption = "no samples in this window (record with 'tui-perf snapshot --save')"
    elif len(shown_points) < len(points):
        samples.caption = f"last {len(shown_points)} of {len(points)} (--all for every row)"
    if len({p.pid for p in points}) > 1:
        pids = ", ".join(str(pid) for pid in sorted({p.pid for p in points}))
        samples.caption = (samples.caption or "") + f" · processes {pids} (--pid N for one)"
    shown_events = events if limit is None else events[-limit:]
    log = Table(title=f"events · {len(events)}", title_justify="left")
    for col in ("time", "kind", "level", "message"):
        log.add_column(col)
    for e in shown_events:
        log.add_row(f"{datetime.fromtimestamp(e.timestamp):%H:%M:%S}", e.kind, e.level, e.message)
    if len(shown_events) < len(events):
        log.caption = f"last {len(shown_events)} of {len(events)} (--all for every row)"
    tables = [samples, log]
    if processes:
        who = Table(title=f"processes · {len(processes)}", title_justify="left")
        for col in ("pid", "started", "command"):
            who.add_column(col)
        for proc in processes:
            started = f"{datetime.fromtimestamp(proc.started):%Y-%m-%d %H:%M:%S}"
            who.add_row(str(proc.pid), started, proc.command)
        tables.insert(0, who)
    return tables
