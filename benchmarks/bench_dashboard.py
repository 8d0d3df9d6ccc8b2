"""The dashboard's own cost in a real terminal (tmux), against its peers in the same run.

Each tool runs at 1 Hz in a 120x40 tmux pane. Measured: time to the first frame (the pane
shows the tool's content), CPU (process user+system time over wall time) and peak RSS over
the window after a 3 s settle.

- `tui-perf --no-demo --no-history --interval 1`: the dashboard alone, watching itself.
- `glances -t 1`: the peer for CPU (and a first frame to compare).
- `benchmarks/bare_app.py`, a Textual app with one Static updated every second: the floor
  for RSS and the first frame, what any Textual app costs before it shows anything.

Five rounds, tools interleaved within each; the CPU goal holds in every round, so the worst
round's ratio is the figure. Children run with bytecode caching on (`.pyc` as a user has
them: the environment may say PYTHONDONTWRITEBYTECODE), after one warm-up launch each.
Where RSS misses, `dashboard_memory.py` (a fresh process, headless) says where it goes.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

from benchmarks.harness import Comparison

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


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
    _tmux(
        "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
        f"env -u PYTHONDONTWRITEBYTECODE {command}",
    )  # fmt: skip
    first = float("nan")
    while time.monotonic() - t0 < 20:
        if marker in _tmux("capture-pane", "-t", session, "-p"):
            first = time.monotonic() - t0
            break
        time.sleep(0.01)
    pane_pid = int(_tmux("display-message", "-t", session, "-p", "#{pane_pid}").strip())
    proc = _target(pane_pid, name)
    time.sleep(3)  # past start-up: the steady state is what runs for hours
    c0, w0 = proc.cpu_times(), time.monotonic()
    rss = []
    while time.monotonic() - w0 < seconds:
        rss.append(proc.memory_info().rss / 2**20)
        time.sleep(1)
    c1, w1 = proc.cpu_times(), time.monotonic()
    _tmux("kill-session", "-t", session)
    cpu = ((c1.user + c1.system) - (c0.user + c0.system)) / (w1 - w0) * 100
    return {
        "first_frame_s": first,
        "cpu_percent": cpu,
        "rss_mean_mib": statistics.fmean(rss),
        "rss_max_mib": max(rss),
    }


TOOLS = {
    "tui-perf": (f"{BIN / 'tui-perf'} --no-demo --no-history --interval 1", "RSS", "tui-perf"),
    "glances": (f"{BIN / 'glances'} -t 1", "CPU", "glances"),
    "bare": (f"{sys.executable} {HERE / 'bare_app.py'}", "bare RSS", "bare_app"),
}


def memory_profile() -> list[dict[str, object]]:
    """Where the dashboard's RSS goes, stage by stage, in a fresh headless process."""
    out = subprocess.run(
        [sys.executable, str(HERE / "dashboard_memory.py")],
        capture_output=True,
        text=True,
        env=ENV,
        check=True,
        timeout=120,
    ).stdout
    stages: list[dict[str, object]] = json.loads(out)
    return stages


def run(quick: bool) -> tuple[list[Comparison], dict[str, object]]:
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is needed for this benchmark (apt-get install tmux)")
    if shutil.which(str(BIN / "glances")) is None:
        raise RuntimeError("glances is not installed: pip install -e '.[bench]'")
    seconds, rounds = (10.0, 1) if quick else (30.0, 5)
    # one warm-up launch each: the bytecode caches are written, as for a user's second run
    for tool, (command, marker, name) in TOOLS.items():
        measure(f"tp-warm-{tool}", command, marker, name, 1)
    runs: dict[str, list[dict[str, float | str]]] = {tool: [] for tool in TOOLS}
    for r in range(rounds):
        order = list(TOOLS) if r % 2 == 0 else list(reversed(TOOLS))
        for tool in order:
            command, marker, name = TOOLS[tool]
            print(f"    {tool} {r + 1}/{rounds}", flush=True)
            runs[tool].append(measure(f"tp-bench-{tool}", command, marker, name, seconds))

    def values(tool: str, key: str) -> list[float]:
        return [float(m[key]) for m in runs[tool]]

    cpu_ratios = [
        o / g
        for o, g in zip(
            values("tui-perf", "cpu_percent"), values("glances", "cpu_percent"), strict=True
        )
    ]
    worst = max(range(rounds), key=lambda i: cpu_ratios[i])
    rss_ours, rss_bare = max(values("tui-perf", "rss_max_mib")), max(values("bare", "rss_max_mib"))
    first = statistics.median(values("tui-perf", "first_frame_s"))
    stages = memory_profile() if rss_ours > 1.2 * rss_bare else []
    biggest = sorted(stages, key=lambda s: -float(s["added_mib"]))[:4]  # type: ignore[arg-type]
    out = [
        Comparison(
            f"dashboard CPU at 1 Hz, the worst of {rounds} rounds",
            f"{values('tui-perf', 'cpu_percent')[worst]:.2f}% of a core",
            f"{values('glances', 'cpu_percent')[worst]:.2f}% glances -t 1",
            cpu_ratios[worst],
            "CPU, lower is better: the worst round's ratio decides",
            "<= 0.8x",
            cpu_ratios[worst] <= 0.8,
            note="CPU ratio by round: " + ", ".join(f"{r:.2f}" for r in cpu_ratios),
        ),
        Comparison(
            "dashboard RSS (peak)",
            f"{rss_ours:.1f} MiB",
            f"{rss_bare:.1f} MiB a bare Textual app with one Static "
            f"(glances {max(values('glances', 'rss_max_mib')):.0f} MiB)",
            rss_ours / rss_bare,
            "RSS, lower is better",
            "<= 1.2x",
            rss_ours <= 1.2 * rss_bare,
            note=(
                "where the RSS goes (dashboard_memory.py, headless): "
                + "; ".join(f"{s['stage']} +{float(s['added_mib']):.1f} MiB" for s in biggest)  # type: ignore[arg-type]
                if biggest
                else ""
            ),
        ),
        Comparison(
            f"first frame, the median of {rounds} launches",
            f"{first:.2f} s",
            f"{statistics.median(values('bare', 'first_frame_s')):.2f} s bare Textual app, "
            f"{statistics.median(values('glances', 'first_frame_s')):.2f} s glances",
            first,
            "seconds to the first frame: this decides",
            "<= 0.5",
            first <= 0.5,
            note="first frames of tui-perf by launch: "
            + ", ".join(f"{v:.2f}" for v in values("tui-perf", "first_frame_s")),
        ),
    ]
    return out, {"seconds": seconds, "rounds": rounds, "runs": runs, "memory_stages": stages}
