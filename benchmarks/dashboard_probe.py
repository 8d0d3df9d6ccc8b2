"""The headless dashboard's figures in this fresh process, for before_after.py.

    PYTHONPATH=TREE python benchmarks/dashboard_probe.py TREE

Runs the `Dashboard` with `app.run_test()` over a `LocalSource` on an `Engine` ticked every
INTERVAL seconds, and prints JSON {"values": {...}, "units": {...}}:

- startup CPU: this process's CPU time from its first line to the first snapshot shown
  (imports, engine, mount, first tick and first refresh);
- CPU over SNAPSHOTS snapshots: the CPU time (all threads, so the engine's ticks too) while
  SNAPSHOTS more snapshots are fed at INTERVAL and shown;
- RSS after them.

CPU time, not wall time: on a shared machine the wall clock measures the neighbours too.
Charts redraw every CHART_INTERVAL seconds, five ticks as in the default 1 s / 5 s, so
the run is short and still draws them. Only names present since before wave 28 are used
(`tui_perf.dashboard.app.Dashboard`, `tui_perf.dashboard.sources.LocalSource`,
`tui_perf.engine.core.Engine`), so the same probe runs against both sides; it is run from the tree
that holds this file, and asserts the package it imported is the tree it was given.
"""

from __future__ import annotations

import time

CPU_AT_START = time.process_time()

import asyncio  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from typing import Any  # noqa: E402

import psutil  # noqa: E402

INTERVAL = 0.25
CHART_INTERVAL = 5 * INTERVAL
SNAPSHOTS = 20
#: a snapshot not shown within this many seconds means the probe is broken, not slow
TIMEOUT = 60.0


class CountingSource:
    """A source's snapshots passed through, counted, ending after `limit` of them."""

    def __init__(self, inner: Any, limit: int) -> None:
        self.inner = inner
        self.description = inner.description
        self.local_interpreter = inner.local_interpreter
        self.limit = limit
        self.count = 0
        self.arrived = asyncio.Event()

    async def snapshots(self) -> AsyncIterator[Any]:
        async for snap in self.inner.snapshots():
            yield snap
            # resumed once the app has posted it; the test waits for the app to go idle
            self.count += 1
            self.arrived.set()
            if self.count >= self.limit:
                return

    async def until(self, count: int) -> None:
        while self.count < count:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), TIMEOUT)

    async def command(self, name: str, /, **args: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.inner.command(name, **args)
        return result

    async def close(self) -> None:
        await self.inner.close()


async def measure(tree: str) -> dict[str, float]:
    import tui_perf

    assert tui_perf.__file__.startswith(tree), tui_perf.__file__
    try:
        from tui_perf.dashboard.app import Dashboard
        from tui_perf.dashboard.sources import LocalSource
        from tui_perf.engine.core import Engine, EngineConfig
    except ImportError as exc:
        sys.exit(f"the dashboard probe needs names this tree ({tree}) lacks: {exc}")

    engine = Engine(EngineConfig(interval=INTERVAL))
    source = CountingSource(LocalSource(engine, description="before/after"), 1 + SNAPSHOTS)
    app = Dashboard(source, history_path=None, chart_interval=CHART_INTERVAL)
    async with app.run_test(size=(120, 40)) as pilot:
        await source.until(1)
        await pilot.pause()
        cpu_first = time.process_time()
        await source.until(1 + SNAPSHOTS)
        await pilot.pause()
        cpu_last = time.process_time()
        rss = psutil.Process().memory_info().rss / 2**20
        app.exit()
    return {
        "dashboard startup CPU": (cpu_first - CPU_AT_START) * 1e3,
        f"dashboard CPU over {SNAPSHOTS} snapshots": (cpu_last - cpu_first) * 1e3,
        f"dashboard RSS after {1 + SNAPSHOTS} snapshots": rss,
    }


def main() -> None:
    values = asyncio.run(measure(sys.argv[1]))
    units = {name: ("MiB" if "RSS" in name else "ms") for name in values}
    json.dump({"values": values, "units": units}, sys.stdout)


if __name__ == "__main__":
    main()
