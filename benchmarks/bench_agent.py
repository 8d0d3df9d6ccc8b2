"""The agent's cost to its host, and the latency from a tick in the target to the pane.

Throughput of a CPU-bound and an allocation-heavy workload in a fresh process, without the
agent and with it at 1 Hz and 10 Hz, a client attached and reading (the realistic case:
snapshots are encoded and sent only when someone listens). Modes are interleaved over
repetitions; medians compared. Goal: <= 1% loss at 1 Hz, <= 3% at 10 Hz.

Latency: a headless dashboard attached to a 10 Hz agent; for every snapshot, wall time
from its tick in the target to its view being handed to the visible pane. Goal: p95 <= 50 ms.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.harness import Comparison

ROOT = Path(__file__).resolve().parent.parent


def _reader(address: str, stop: threading.Event) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(address)
        s.sendall(b'{"type":"hello","version":1}\n')
        s.settimeout(0.5)
        while not stop.is_set():
            try:
                if not s.recv(1 << 20):
                    return
            except TimeoutError:
                continue
            except OSError:
                return


def _once(workload: str, mode: str, seconds: float) -> dict[str, float]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.agent_worker", workload, mode, str(seconds)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    address = json.loads(proc.stdout.readline())["address"]
    stop = threading.Event()
    thread = None
    if address:
        thread = threading.Thread(target=_reader, args=(address, stop), daemon=True)
        thread.start()
        time.sleep(0.3)  # connected and past the hello
    proc.stdin.write("go\n")
    proc.stdin.flush()
    result: dict[str, float] = json.loads(proc.stdout.readline())
    stop.set()
    proc.stdin.close()
    proc.wait(10)
    return result


def _cost_note(
    workload: str, mode: str, pauses: float, empty: float, runs: list[dict[str, float]]
) -> str:
    """Where an allocation-heavy host's cost goes, when pauses are measured: `pauses` is
    the callback's cost a collection, `empty` what an empty callback's call costs."""
    if workload != "alloc" or mode.endswith("nopause"):
        return ""
    rate = statistics.median(r["collections"] / r["wall_s"] for r in runs)
    timed = statistics.median(r["timed_collections"] / r["wall_s"] for r in runs)
    threads = statistics.median(r["agent_thread_cpu_s"] / r["wall_s"] for r in runs)
    return (
        f"alloc at {mode} Hz: {rate:,.0f} collections/s, {timed:,.0f} of them timed (above "
        f"2,000/s pauses are timed in turns); the pause callback {pauses * 1e6:.2f} µs each "
        f"= {pauses * timed * 100:.2f}% (CPython's own call of any callback, even an empty "
        f"one, is {empty * 1e6:.2f} µs of that); the agent's threads "
        f"{threads * 100:.2f}%. "
    )


def latency(samples: int) -> list[float]:
    from tui_perf.agent.client import RemoteSource
    from tui_perf.dashboard.app import Dashboard

    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.agent_worker", "cpu", "10", "600"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    address = json.loads(proc.stdout.readline())["address"]
    delays: list[float] = []
    app = Dashboard(RemoteSource(address))
    shown = app.refresh_view

    def timed(pane: str | None = None) -> None:
        shown(pane)
        latest = app.history.latest
        if latest is not None and pane is None:
            delays.append(time.time() - latest.timestamp)

    app.refresh_view = timed  # type: ignore[method-assign]

    async def run() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            proc.stdin.write("go\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
            while len(delays) < samples:
                await pilot.pause(0.1)

    asyncio.run(run())
    proc.kill()
    proc.wait()
    return delays


def run(quick: bool) -> tuple[list[Comparison], dict[str, object]]:
    from benchmarks.bench_gc import callback_cost_per_collection

    seconds, reps = (2.0, 2) if quick else (4.0, 5)
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for workload in ("cpu", "alloc"):
        # Allocation-heavy hosts are where pause measurement costs: also run without it.
        modes = ["none", "1", "10"] + (["1-nopause"] if workload == "alloc" else [])
        for rep in range(reps):
            order = modes[rep % len(modes) :] + modes[: rep % len(modes)]
            for mode in order:
                print(f"    {workload} {mode} {rep + 1}/{reps}", flush=True)
                results.setdefault((workload, mode), []).append(_once(workload, mode, seconds))
    per_collection = callback_cost_per_collection()
    empty_callback = callback_cost_per_collection(callback=lambda phase, info: None)
    comparisons = []
    for workload in ("cpu", "alloc"):
        base_runs = [r["ops_per_s"] for r in results[(workload, "none")]]
        base = statistics.median(base_runs)
        # #17 raised the allocation-heavy 1 Hz goal from 1% to 0.5%
        goals = (("1", 0.005 if workload == "alloc" else 0.01), ("10", 0.03), ("1-nopause", 0.005))
        for mode, goal in goals:
            if (workload, mode) not in results:
                continue
            runs = results[(workload, mode)]
            pauses = 0.0 if mode.endswith("nopause") else per_collection
            ours = statistics.median(r["ops_per_s"] for r in runs)
            # The direct measure: the agent's threads' CPU, plus the GC pause callback's
            # cost per collection times the collections, over the run's wall time.
            direct = statistics.median(
                (r["agent_thread_cpu_s"] + pauses * r["timed_collections"]) / r["wall_s"]
                for r in runs
            )
            comparisons.append(
                Comparison(
                    f"{workload} workload, agent at {mode.replace('-nopause', '')} Hz with a client"
                    + (", no GC pause measurement" if mode.endswith("nopause") else ""),
                    f"{direct * 100:.2f}% of the host's time (measured directly)",
                    f"A/B throughput {ours:,.0f} vs {base:,.0f} ops/s ({ours / base:.2f}x)",
                    direct * 100,
                    "% of the host's time, measured directly: this decides",
                    f"<= {goal * 100:g}",
                    direct <= goal,
                    note=_cost_note(workload, mode, pauses, empty_callback, runs)
                    + f"{workload} at {mode} Hz: A/B runs "
                    f"{min(r['ops_per_s'] for r in runs):,.0f}-"
                    f"{max(r['ops_per_s'] for r in runs):,.0f} with the agent vs "
                    f"{min(base_runs):,.0f}-{max(base_runs):,.0f} without: the spread is "
                    f"wider than the effect, so the direct measure decides 'met'",
                )
            )
    delays = sorted(latency(30 if quick else 100))
    p95 = delays[int(len(delays) * 0.95) - 1]
    comparisons.append(
        Comparison(
            "tick in the target to the pane's view (10 Hz)",
            f"p95 {p95 * 1000:.1f} ms",
            f"median {statistics.median(delays) * 1000:.1f} ms",
            p95 / 0.05,
            "share of the 50 ms goal",
            "p95 <= 50 ms",
            p95 <= 0.05,
        )
    )
    return comparisons, {
        "seconds": seconds,
        "reps": reps,
        "runs": {f"{w}/{m}": v for (w, m), v in results.items()},
        "latency_ms": [d * 1000 for d in delays],
    }
