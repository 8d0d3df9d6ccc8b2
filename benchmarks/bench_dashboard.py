"""The dashboard's own cost in a real terminal (tmux), against glances in the same run.

Each tool runs at 1 Hz in a 120x40 tmux pane. Measured: time to the first frame (the pane
shows the tool's content), CPU (process user+system time over wall time) and RSS over the
window, and for tui-perf the render-cache hit rate it reports on its Overview pane.
`tui-perf --no-demo --no-history`: the dashboard alone, not the demo workload.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

from benchmarks.harness import Comparison

BIN = Path(sys.executable).parent


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def _target(pane_pid: int, name: str) -> psutil.Process:
    proc = psutil.Process(pane_pid)
    for p in [proc, *proc.children(recursive=True)]:
        if name in " ".join(p.cmdline()):
            return p
    return proc


def measure(
    session: str, command: str, marker: str, name: str, seconds: float
) -> dict[str, float | str]:
    _tmux("kill-session", "-t", session)
    t0 = time.monotonic()
    _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", command)
    first = float("nan")
    while time.monotonic() - t0 < 20:
        if marker in _tmux("capture-pane", "-t", session, "-p"):
            first = time.monotonic() - t0
            break
        time.sleep(0.02)
    pane_pid = int(_tmux("display-message", "-t", session, "-p", "#{pane_pid}").strip())
    proc = _target(pane_pid, name)
    time.sleep(3)  # past start-up: the steady state is what runs for hours
    c0, w0 = proc.cpu_times(), time.monotonic()
    rss = []
    while time.monotonic() - w0 < seconds:
        rss.append(proc.memory_info().rss / 2**20)
        time.sleep(1)
    c1, w1 = proc.cpu_times(), time.monotonic()
    screen = _tmux("capture-pane", "-t", session, "-p")
    _tmux("kill-session", "-t", session)
    cpu = ((c1.user + c1.system) - (c0.user + c0.system)) / (w1 - w0) * 100
    hit = re.search(r"render cache (\d+)% hits", screen)
    return {
        "first_frame_s": first,
        "cpu_percent": cpu,
        "rss_mean_mib": statistics.fmean(rss),
        "rss_max_mib": max(rss),
        "render_hit": float(hit.group(1)) if hit else -1.0,
    }


def run(quick: bool) -> tuple[list[Comparison], dict[str, object]]:
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is needed for this benchmark (apt-get install tmux)")
    seconds = 15.0 if quick else 60.0
    ours = measure(
        "tp-bench-ours",
        f"{BIN / 'tui-perf'} --no-demo --no-history --interval 1",
        "RSS",
        "tui-perf",
        seconds,
    )
    glances = measure("tp-bench-glances", f"{BIN / 'glances'} -t 1", "CPU", "glances", seconds)
    out = [
        Comparison(
            "dashboard CPU at 1 Hz",
            f"{ours['cpu_percent']:.2f}% of a core",
            f"{glances['cpu_percent']:.2f}% glances -t 1",
            float(ours["cpu_percent"]) / float(glances["cpu_percent"]),
            "CPU, lower is better",
            "<= 1.0x glances",
            float(ours["cpu_percent"]) <= float(glances["cpu_percent"]),
        ),
        Comparison(
            "dashboard RSS",
            f"{ours['rss_max_mib']:.0f} MiB peak",
            f"{glances['rss_max_mib']:.0f} MiB glances",
            float(ours["rss_max_mib"]),
            "MiB at the peak: this decides",
            "<= 80 MiB",
            float(ours["rss_max_mib"]) <= 80,
        ),
        Comparison(
            "first frame",
            f"{ours['first_frame_s']:.2f} s",
            f"{glances['first_frame_s']:.2f} s glances",
            float(ours["first_frame_s"]),
            "seconds to the first frame: this decides",
            "<= 1 s",
            float(ours["first_frame_s"]) <= 1.0,
        ),
        Comparison(
            "render-cache hit rate (steady state)",
            f"{ours['render_hit']:.0f}%",
            "—",
            float(ours["render_hit"]) / 100,
            "hit rate",
            ">= 80%",
            float(ours["render_hit"]) >= 80,
            note="Textual renders a widget only when it is refreshed, and panes refresh "
            "only when their data changed, so most renders are of new data: the "
            "cache sees few repeats",
        ),
    ]
    return out, {"seconds": seconds, "tui_perf": ours, "glances": glances}
