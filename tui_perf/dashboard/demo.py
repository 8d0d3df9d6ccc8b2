"""The built-in demo workload: something real for every pane to show on a fresh machine.

- memory: a sawtooth of 1 MiB buffers that climbs through the tiers of a small demo budget,
  then lets go (so the tiers move, and the cleanup ladder runs at HIGH);
- cyclic garbage: small object graphs in reference cycles (the GC pane and its census);
- caches: two @cached functions fed a Zipf-skewed key stream, so hit rates mean something;
- an ObjectPool of buffers, and SQLite queries through an aiosqlite ConnectionPool.

Everything runs on daemon threads at a gentle pace and stops with `stop()`.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tui_perf.caches.decorator import cached
from tui_perf.pools.connections import ConnectionPool
from tui_perf.pools.objects import ObjectPool

MiB = 1024 * 1024


class DemoNode:
    """A node of the demo's cyclic garbage: parent and children point at each other."""

    def __init__(self, parent: DemoNode | None = None) -> None:
        self.parent = parent
        self.children: list[DemoNode] = []
        self.payload = [0] * 16


def zipf_keys(n: int, s: float, rng: random.Random) -> list[int]:
    """A key stream where key k is drawn with weight 1 / k**s: a few keys are hot."""
    weights = [1 / (k**s) for k in range(1, n + 1)]
    return rng.choices(range(n), weights=weights, k=20_000)


@cached(maxsize=64, name="demo.user_profile")
def user_profile(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "name": f"user{user_id}", "score": sum(range(user_id * 10))}


@cached(maxsize=200, name="demo.render_page")
def render_page(page: int) -> str:
    return json.dumps({"page": page, "rows": list(range(page % 50))})


class Demo:
    """The demo workload. `budget_mib` is what the sawtooth is shaped against."""

    def __init__(
        self,
        peak_mib: int = 96,
        period_s: float = 40.0,
        seed: int = 1,
        *,
        sawtooth: bool = True,
        leak_once: bool = True,
    ) -> None:
        """`sawtooth=False, leak_once=False` and caches resized to fit (`fit_caches`) make
        a healthy program: what the advice benchmark runs to count false alarms."""
        self.sawtooth = sawtooth
        self.leak_once = leak_once
        self.peak_mib = peak_mib
        self.period_s = period_s
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ballast: list[bytearray] = []
        self.buffers: ObjectPool[bytearray] = ObjectPool(
            lambda: bytearray(64 * 1024), max_idle=8, max_size=16, name="demo.buffers"
        )
        self._tmp = tempfile.TemporaryDirectory(prefix="tui-perf-demo-")
        self.db_path = Path(self._tmp.name) / "demo.db"
        self.pool: ConnectionPool | None = None
        self._leaked_once = False

    @staticmethod
    def fit_caches() -> None:
        """Size the demo's caches to hold their whole key sets (500 users, 1000 pages)."""
        user_profile.cache.l1.resize(512)  # type: ignore[attr-defined]
        render_page.cache.l1.resize(1024)  # type: ignore[attr-defined]

    def start(self) -> Demo:
        parts = [self._garbage, self._caches, self._buffers, self._sqlite]
        if self.sawtooth:
            parts.insert(0, self._sawtooth)
        for target in parts:
            t = threading.Thread(
                target=self._guard(target), name=f"demo{target.__name__}", daemon=True
            )
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(2)
        self._ballast.clear()
        self._tmp.cleanup()

    def _guard(self, fn: Any) -> Any:
        def run() -> None:
            try:
                fn()
            except Exception:  # a demo thread failing must not take the dashboard down
                import logging

                logging.getLogger(__name__).exception("demo %s stopped", fn.__name__)

        return run

    # -- the parts ---------------------------------------------------------------------

    def _sawtooth(self) -> None:
        step = self.period_s / self.peak_mib * 0.75  # climb for 3/4 of the period
        while not self._stop.is_set():
            while len(self._ballast) < self.peak_mib and not self._stop.is_set():
                buf = bytearray(MiB)
                buf[::4096] = b"x" * len(buf[::4096])  # touch every page: make it resident
                self._ballast.append(buf)
                self._stop.wait(step)
            self._stop.wait(self.period_s / 8)
            self._ballast.clear()  # let go: 1 MiB buffers go straight back to the OS
            self._stop.wait(self.period_s / 8)

    def _garbage(self) -> None:
        while not self._stop.wait(0.2):
            root = DemoNode()
            for _ in range(self._rng.randrange(20, 200)):
                root.children.append(DemoNode(root))
            del root  # unreachable, but in cycles: only the collector frees it

    def _caches(self) -> None:
        users = zipf_keys(500, 1.1, self._rng)
        pages = zipf_keys(1000, 0.9, self._rng)
        i = 0
        while not self._stop.wait(0.005):
            for _ in range(20):
                user_profile(users[i % len(users)])
                render_page(pages[i % len(pages)])
                i += 1

    def _buffers(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(0.05):
            held = [self.buffers.get(timeout=1) for _ in range(self._rng.randrange(1, 6))]
            for b in held:
                self.buffers.put(b)
            if self.leak_once and not self._leaked_once and time.monotonic() - started > 20:
                # Once, on purpose: a buffer taken and never returned, so the Pools pane
                # can show what a leak looks like and where it was acquired.
                self._leaked_once = True
                self.buffers.get(timeout=1)

    def _sqlite(self) -> None:
        asyncio.run(self._sqlite_loop())

    async def _sqlite_loop(self) -> None:
        self.pool = await ConnectionPool(self.db_path, max_size=3, name="demo.sqlite").open()
        async with self.pool.connection() as db:
            await db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
            await db.executemany("INSERT INTO t (v) VALUES (?)", [(f"row{i}",) for i in range(500)])
        try:
            while not self._stop.is_set():
                async with (
                    self.pool.connection() as db,
                    db.execute(
                        "SELECT COUNT(*), MAX(id) FROM t WHERE v LIKE ?",
                        (f"row{self._rng.randrange(50)}%",),
                    ) as cur,
                ):
                    await cur.fetchone()
                await asyncio.sleep(0.1)
        finally:
            await self.pool.close()
