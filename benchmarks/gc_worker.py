"""One measured run of a GC workload in a fresh process; prints a JSON line.

    python -m benchmarks.gc_worker WORKLOAD MODE SCALE

WORKLOAD: ast (parse standard-library files, keep every tree: a live graph that only grows,
like a type checker) or churn (short-lived containers, some in cycles, beside a large live
heap). MODE: default | throughput | adaptive | nohook (default thresholds, no pause callback).
"""

from __future__ import annotations

import ast
import contextlib
import gc
import json
import resource
import sys
import sysconfig
import time
from pathlib import Path


def stdlib_sources(limit_bytes: int) -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    out, total = [], 0
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts or "test" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        out.append(text)
        total += len(text)
        if total >= limit_bytes:
            break
    return out


def workload_ast(scale: float) -> int:
    sources = stdlib_sources(int(6_000_000 * scale))
    trees = []
    for _ in range(2):
        for text in sources:
            with contextlib.suppress(SyntaxError):
                trees.append(ast.parse(text))
    return len(trees)


class Item:
    __slots__ = ("payload", "peer")

    def __init__(self, payload: object) -> None:
        self.payload = payload
        self.peer: Item | None = None


def workload_churn(scale: float) -> int:
    # A large live heap: what every full collection has to walk.
    live = {i: (str(i), [i, i + 1], {"k": i}) for i in range(int(600_000 * scale))}
    made = 0
    for i in range(int(3_000_000 * scale)):
        record = {"id": i, "tags": [i % 7, i % 11], "name": f"row{i}"}
        if i % 10 == 0:  # some garbage only the cycle collector can free
            a, b = Item(record), Item(None)
            a.peer, b.peer = b, a
        made += len(record)
    return made + len(live)


def main() -> None:
    workload, mode, scale = sys.argv[1], sys.argv[2], float(sys.argv[3])
    from tui_perf.engine.gc_control import GCConfig, GCController

    controller = None
    engine = None
    if mode in ("default", "throughput"):
        controller = GCController(GCConfig(strategy=mode))
        controller.install()
    elif mode == "adaptive":
        from tui_perf.engine.core import Engine, EngineConfig

        engine = Engine(EngineConfig(interval=1.0, gc=GCConfig(adaptive=True)))
        engine.start()
        engine.tick()  # adapt at once rather than after the first interval
        controller = engine.gc_controller
    fn = {"ast": workload_ast, "churn": workload_churn}[workload]
    collections_before = sum(s["collections"] for s in gc.get_stats())
    t0 = time.perf_counter()
    fn(scale)
    wall = time.perf_counter() - t0
    pauses = controller.pauses_ns() if controller else []
    strategy = controller.strategy if controller else "default"
    if engine is not None:
        engine.stop()
    elif controller is not None:
        controller.uninstall()
    print(
        json.dumps(
            {
                "workload": workload,
                "mode": mode,
                "wall_s": wall,
                "gc_pause_s": sum(pauses) / 1e9,
                "pauses": len(pauses),
                "strategy": strategy,
                "collections": sum(s["collections"] for s in gc.get_stats()) - collections_before,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
