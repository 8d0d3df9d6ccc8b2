"""Where the dashboard's RSS goes, stage by stage, in this fresh process (headless).

Prints a JSON list of {"stage", "rss_mib", "added_mib"}: the interpreter with asyncio and
psutil, Textual, each group of our imports, the engine with its capabilities, the Overview
with its chart, the mounted app and the app after five snapshots. RSS, not tracemalloc:
tracemalloc's own bookkeeping would be most of what it measured, and RSS is the figure the
benchmark compares. Run by bench_dashboard.py when its RSS goal is missed.
"""

from __future__ import annotations

import asyncio
import json
import sys

import psutil

PROCESS = psutil.Process()
STAGES: list[dict[str, object]] = []


def mark(stage: str) -> None:
    rss = PROCESS.memory_info().rss / 2**20
    added = rss - float(STAGES[-1]["rss_mib"]) if STAGES else 0.0  # type: ignore[arg-type]
    STAGES.append({"stage": stage, "rss_mib": round(rss, 2), "added_mib": round(added, 2)})


async def main() -> None:
    mark("python, asyncio, psutil")
    import textual.app
    from textual.widgets import Footer, Header, Static, TabbedContent, TabPane  # noqa: F401

    del textual
    mark("textual (what a bare app imports)")
    import tui_perf.cli.main

    mark("tui-perf's command line")
    from tui_perf.dashboard.app import Dashboard
    from tui_perf.dashboard.sources import LocalSource

    mark("the dashboard app, views and the engine's modules")
    from tui_perf.engine.core import Engine, EngineConfig

    engine = Engine(EngineConfig(interval=1.0))
    source = LocalSource(engine, description="memory profile")
    mark("an engine with its capabilities (advice, profile, bench, tune)")
    import tui_perf.widgets.overview  # noqa: F401

    mark("the Overview pane and its chart (plotext)")
    app = Dashboard(source, history_path=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        mark("the app mounted (header, 9 tabs, the Overview, footer)")
        await pilot.pause(5)
        mark("five snapshots later")
        app.exit()


if __name__ == "__main__":
    asyncio.run(main())
    json.dump(STAGES, sys.stdout)
