"""A workload with or without the agent; prints operations per second as JSON.

python -m benchmarks.agent_worker cpu|alloc none|1|10|1-nopause SECONDS
"""

from __future__ import annotations

import json
import sys
import time


def cpu(deadline: float) -> int:
    ops = 0
    while time.perf_counter() < deadline:
        sum(i * i for i in range(200))
        ops += 1
    return ops


def alloc(deadline: float) -> int:
    ops = 0
    keep: list[object] = []
    while time.perf_counter() < deadline:
        keep.append([{"k": i, "v": [i] * 4} for i in range(20)])
        if len(keep) > 500:
            keep.clear()
        ops += 1
    return ops


def main() -> None:
    workload, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    controller = None
    if mode != "none":
        import tui_perf.agent

        hz, _, flag = mode.partition("-")
        agent = tui_perf.agent.start(interval=1 / float(hz), measure_gc_pauses=flag != "nopause")
        controller = agent.engine.gc_controller
        print(json.dumps({"address": agent.address}), flush=True)
        sys.stdin.readline()  # the harness has connected a reader
    else:
        print(json.dumps({"address": None}), flush=True)
        sys.stdin.readline()
    import gc
    import threading

    import psutil

    main_id = threading.get_native_id()

    def others() -> dict[int, float]:
        # /proc's schedstat counts each thread's time on a CPU in ns; psutil's thread times
        # tick in 10 ms, half of the 0.5% goal over a 4 s run
        found: dict[int, float] = {}
        for t in psutil.Process().threads():
            if t.id == main_id:
                continue
            try:
                with open(f"/proc/self/task/{t.id}/schedstat") as f:
                    found[t.id] = int(f.read().split()[0]) / 1e9
            except OSError:
                found[t.id] = t.user_time + t.system_time
        return found

    # CPU the agent's own threads used (every thread but the workload's) within the window,
    # for the direct measure of its cost (the whole-run A/B is too noisy on a shared machine
    # for 1%). Read at both ends: its start-up (the first ticks, the client's hello) is
    # before the window and is not the steady cost a host pays.
    collections = sum(s["collections"] for s in gc.get_stats())
    # the collections the pause callback ran for (all of them unless it timed in turns)
    timed = controller._n if controller is not None else 0
    before = others()
    t0 = time.perf_counter()
    ops = {"cpu": cpu, "alloc": alloc}[workload](t0 + seconds)
    wall = time.perf_counter() - t0
    after = others()
    used = sum(cpu_s - before.get(tid, 0.0) for tid, cpu_s in after.items())
    print(
        json.dumps(
            {
                "ops_per_s": ops / wall,
                "wall_s": wall,
                "agent_thread_cpu_s": used,
                "collections": sum(s["collections"] for s in gc.get_stats()) - collections,
                "timed_collections": (controller._n if controller is not None else 0) - timed,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
