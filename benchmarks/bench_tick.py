"""`Engine.tick()` with default probes against one bare `psutil.Process().memory_info()`.

The floor is the cheapest useful reading a monitor can take; goal: tick <= 1.5x that floor.
The engine is set up as `Engine.start()` leaves it (the GC controller installed, its pause
callback in `gc.callbacks`), with the ticks called here instead of on its thread.
"""

from __future__ import annotations

import psutil

from benchmarks.harness import Comparison, time_interleaved
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.registry import Registry


def run(quick: bool) -> tuple[list[Comparison], dict[str, object]]:
    engine = Engine(EngineConfig(), registry=Registry())
    if engine.gc_controller is not None:
        engine.gc_controller.install()  # as start() does
    process = psutil.Process()

    def tick(n: int) -> None:
        t = engine.tick
        for _ in range(n):
            t()

    def floor(n: int) -> None:
        m = process.memory_info
        for _ in range(n):
            m()

    loops, rounds = (500, 5) if quick else (5000, 15)
    try:
        res = time_interleaved({"tick": tick, "memory_info": floor}, loops=loops, rounds=rounds)
    finally:
        if engine.gc_controller is not None:
            engine.gc_controller.uninstall()
    ratio = res["tick"].per_op_s / res["memory_info"].per_op_s
    return [
        Comparison(
            benchmark="Engine.tick() vs psutil memory_info()",
            ours=f"{res['tick'].per_op_s * 1e6:.1f} µs",
            peer=f"{res['memory_info'].per_op_s * 1e6:.1f} µs",
            ratio=ratio,
            ratio_means="time, lower is better",
            goal="<= 1.5x",
            met=ratio <= 1.5,
        )
    ], {"loops": loops, "rounds": rounds}
