"""What the widget memory manager saved: two demo dashboards at once, one with it, one without.

The record of the measurement that removed the manager's render cache and row-state pool
(`benchmarks/results/widgets.json`, 10 minutes: the cache served 11 of 149 renders, building
took 3.95 s with it and 3.54 s without, CPU 16.32% against 16.22%, RSS equal; the pool
reused 11 row states against 133 created; published at 864bb4c). It measures the code before
that removal (up to `90467ee`, whose dashboard reads the two settings below); on later code the
manager is only a registry of live widgets, has no switch and writes no figures, so `run`
stops at once with a RuntimeError that says so, as benchmarks whose peer is missing do.

Both run `python -m tui_perf --no-history` (this tree's package, its demo workload) in
120x40 tmux panes for the same window, side by side, and get the same keys and resizes at the
same moments: a pane switch every 15 s (Overview, Memory, GC, Caches, Pools, back to
Overview) and a resize to 100x32 and back every 60 s. One has `TUI_PERF_WIDGET_MANAGER=0`
(renders build directly, tables keep plain row state); each writes the manager's own counters
to a file (`TUI_PERF_WIDGET_STATS`), read after a 60 s warm-up and at the end: the steady state.

Measured: renders served from the render cache over all renders through it; the seconds
spent building renders on and off (what the cache saves, read from the app's own timer) and
the seconds spent making keys; row states reused and the bytes they hold; process CPU (user +
system over wall time) and RSS of each dashboard over the same window.

    python benchmarks/run.py widgets [--quick]       # --quick: a 2-minute run
    python -m benchmarks.bench_widgets --seconds 90  # by hand, any length
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.harness import Comparison

#: the tree this file is in: the dashboards run its package (`tui-perf` on PATH may be an
#: editable install of another checkout)
ROOT = Path(__file__).resolve().parent.parent
WARMUP = 60.0
PANES = ("1", "2", "3", "4", "5", "1")  # overview, memory, gc, caches, pools, overview
SWITCH_EVERY, RESIZE_EVERY = 15.0, 60.0


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def _dashboard(pane_pid: int) -> psutil.Process:
    proc = psutil.Process(pane_pid)
    for p in [proc, *proc.children(recursive=True)]:
        if "tui_perf" in " ".join(p.cmdline()):
            return p
    return proc


def _read(path: Path) -> dict[str, Any]:
    for _ in range(50):
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        except (OSError, ValueError):
            time.sleep(0.1)
    raise RuntimeError(f"the dashboard wrote no manager figures to {path}")


#: figures that are levels (what is held now), not counters: no difference is taken of them
LEVELS = (
    "render_cached", "row_states_held", "row_states_idle", "row_state_bytes_held",
    "row_state_bytes_idle", "widgets",
)  # fmt: skip


def _delta(end: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
    out = {
        k: v - start.get(k, 0)
        for k, v in end.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and k not in LEVELS
    }
    out["by_kind"] = {
        kind: [a - b for a, b in zip(v, start["by_kind"].get(kind, [0, 0, 0, 0.0]), strict=True)]
        for kind, v in end["by_kind"].items()
    }
    return out


def measure(seconds: float, warmup: float = WARMUP) -> dict[str, dict[str, Any]]:
    """Both dashboards over the same `seconds` (after the warm-up): counters, CPU, RSS."""
    modes = {"on": "1", "off": "0"}
    with tempfile.TemporaryDirectory(prefix="tp-widgets-") as tmp:
        files = {m: Path(tmp) / f"{m}.json" for m in modes}
        sessions = {m: f"tp-widgets-{m}" for m in modes}
        for mode, flag in modes.items():
            _tmux("kill-session", "-t", sessions[mode])
            _tmux(
                "new-session", "-d", "-s", sessions[mode], "-x", "120", "-y", "40",
                f"env -u PYTHONDONTWRITEBYTECODE TUI_PERF_WIDGET_MANAGER={flag} "
                f"TUI_PERF_WIDGET_STATS={files[mode]} PYTHONPATH={ROOT} "
                f"{sys.executable} -m tui_perf --no-history",
            )  # fmt: skip
        try:
            time.sleep(3)
            procs = {
                m: _dashboard(int(_tmux("display-message", "-t", s, "-p", "#{pane_pid}").strip()))
                for m, s in sessions.items()
            }
            time.sleep(warmup - 3)
            start = {m: _read(f) for m, f in files.items()}
            cpu0 = {m: p.cpu_times() for m, p in procs.items()}
            w0 = time.monotonic()
            rss: dict[str, list[float]] = {m: [] for m in modes}
            step = 0
            while (elapsed := time.monotonic() - w0) < seconds:
                if elapsed >= step * 5.0:  # the same schedule for both, at the same moment
                    t = step * 5.0
                    for s in sessions.values():
                        if t % SWITCH_EVERY == 0:
                            key = PANES[int(t // SWITCH_EVERY) % len(PANES)]
                            _tmux("send-keys", "-t", s, key)
                        if t % RESIZE_EVERY == 0:
                            _tmux("resize-window", "-t", s, "-x", "100", "-y", "32")
                        elif t % RESIZE_EVERY == RESIZE_EVERY / 2:
                            _tmux("resize-window", "-t", s, "-x", "120", "-y", "40")
                    step += 1
                for m, p in procs.items():
                    rss[m].append(p.memory_info().rss / 2**20)
                time.sleep(1)
            cpu1 = {m: p.cpu_times() for m, p in procs.items()}
            wall = time.monotonic() - w0
            time.sleep(1.5)  # the last figures written (at most once a second, at a render)
            end = {m: _read(f) for m, f in files.items()}
        finally:
            for s in sessions.values():
                _tmux("kill-session", "-t", s)
    out: dict[str, dict[str, Any]] = {}
    for m in modes:
        used = (cpu1[m].user + cpu1[m].system) - (cpu0[m].user + cpu0[m].system)
        out[m] = {
            "cpu_percent": used / wall * 100,
            "rss_mean_mib": statistics.fmean(rss[m]),
            "rss_max_mib": max(rss[m]),
            "steady": _delta(end[m], start[m]),
            "end": end[m],
        }
    return out


def comparisons(runs: dict[str, dict[str, Any]], seconds: float) -> list[Comparison]:
    on, off = runs["on"], runs["off"]
    s_on, s_off = on["steady"], off["steady"]
    lookups = s_on["render_hits"] + s_on["render_misses"]
    hit = s_on["render_hits"] / lookups if lookups else 0.0
    build_on, build_off = s_on["build_seconds"] + s_on["key_seconds"], s_off["build_seconds"]
    build_ratio = build_on / build_off if build_off else float("nan")
    cpu_ratio = on["cpu_percent"] / off["cpu_percent"]
    rss_ratio = on["rss_max_mib"] / off["rss_max_mib"]
    e_on = on["end"]
    pooled = e_on["row_states_created"] + e_on["row_states_reused"]
    reuse = e_on["row_states_reused"] / pooled if pooled else 0.0
    kinds = "; ".join(
        f"{k}: {v[0]} hits, {v[1]} misses, {v[3] / max(1, v[1]) * 1000:.1f} ms a build"
        for k, v in sorted(s_on["by_kind"].items())
    )
    window = f"the same {seconds / 60:.0f} min of the demo, on and off side by side"
    # the most the cache could save: every render the manager-off dashboard built, served
    ceiling = build_off / seconds * 100
    return [
        Comparison(
            "renders served from the render cache (steady state)",
            f"{s_on['render_hits']} of {lookups} renders ({hit:.0%})",
            "— (off: every render built)",
            hit,
            "share of renders through the cache served from it",
            ">= 60%",
            hit >= 0.6,
            note=f"render cache by widget ({window}): {kinds}. The ceiling: the dashboard "
            f"without the manager spent {build_off:.1f} s building renders, {ceiling:.2f}% of a "
            "core, so even every render served would save less than that. Renders are rare "
            "because a chart is refreshed only when its spec changed (at most every 5 s) and "
            "Textual keeps the lines it drew across pane switches; the spec changes with "
            "every tick of the demo (its x axis is seconds before now), so a repeat is rare",
        ),
        Comparison(
            "time building renders, manager on / off (steady state)",
            f"{build_on:.2f} s on ({s_on['key_seconds'] * 1000:.1f} ms of it making keys)",
            f"{build_off:.2f} s off ({s_off['render_direct']} renders built)",
            build_ratio,
            "seconds building, lower is better (the app's own timer)",
            "<= 0.8x",
            build_ratio <= 0.8,
            note="renders avoided: "
            f"{s_on['render_hits']}; a render the cache serves is a plotext chart or the "
            "replay timeline not rebuilt; InfoBlocks no longer go through the cache (their "
            "build was reading a field, so a hit saved nothing)",
        ),
        Comparison(
            "dashboard CPU, manager on / off",
            f"{on['cpu_percent']:.2f}% of a core",
            f"{off['cpu_percent']:.2f}% off",
            cpu_ratio,
            "CPU, lower is better (demo workload included in both)",
            "<= 0.95x",
            cpu_ratio <= 0.95,
            note=f"CPU over {window}; both run the demo workload in-process, so the "
            "dashboard's own share is smaller than the process's",
        ),
        Comparison(
            "dashboard RSS (peak), manager on / off",
            f"{on['rss_max_mib']:.1f} MiB (mean {on['rss_mean_mib']:.1f})",
            f"{off['rss_max_mib']:.1f} MiB off (mean {off['rss_mean_mib']:.1f})",
            rss_ratio,
            "RSS, lower is better",
            "<= 1.05x",
            rss_ratio <= 1.05,
            note=f"renders held by the cache at the end: {e_on['render_cached']}",
        ),
        Comparison(
            "row states reused by the pool (whole run)",
            f"{e_on['row_states_reused']} reused, {e_on['row_states_created']} created "
            f"({reuse:.0%})",
            f"off: {off['end']['row_states_held']} plain states, none reused",
            reuse,
            "share of row states taken from the pool",
            "informational",
            None,
            note="bytes held by row state at the end: on "
            f"{e_on['row_state_bytes_held'] / 1024:.1f} KiB shown + "
            f"{e_on['row_state_bytes_idle'] / 1024:.1f} KiB idle in the pool, off "
            f"{off['end']['row_state_bytes_held'] / 1024:.1f} KiB",
        ),
    ]


#: the last revision with the render cache, the pool and their switch
MEASURED_REVISION = "90467ee"


def check_measurable(root: Path = ROOT) -> None:
    """Stop at once where the manager has nothing left to switch off (it would otherwise run
    two dashboards for ten minutes and then find no figures)."""
    managed = root / "tui_perf" / "widgets" / "managed.py"
    if "TUI_PERF_WIDGET_STATS" not in managed.read_text():
        raise RuntimeError(
            "the widget manager's render cache and row-state pool were removed after this "
            "measurement (benchmarks/results/widgets.json); to run it again, check out "
            f"{MEASURED_REVISION}"
        )


def run(quick: bool, seconds: float | None = None) -> tuple[list[Comparison], dict[str, object]]:
    check_measurable()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is needed for this benchmark (apt-get install tmux)")
    seconds = seconds or (120.0 if quick else 600.0)
    warmup = min(WARMUP, max(10.0, seconds / 4))  # a short debugging run warms up less
    runs = measure(seconds, warmup)
    return comparisons(runs, seconds), {"seconds": seconds, "warmup": warmup, "runs": runs}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    rows, extra = run(False, args.seconds)
    for c in rows:
        print(f"{c.benchmark}: {c.ours} vs {c.peer} -> {c.ratio:.2f}; goal {c.goal}")
    print(json.dumps(extra["runs"], indent=1, default=str)[:3000], file=sys.stderr)
    os._exit(0)
