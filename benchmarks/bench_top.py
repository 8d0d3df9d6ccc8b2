"""`tui-perf top` over 50 agents at 1 Hz: the cost of the `top` process, and what being
watched adds to each agent.

Fifty idle hosts (`benchmarks/fleet_host.py`: the agent at 1 Hz and a small cache) in a
runtime folder of their own, so `top` finds exactly them. First 30 s with nobody watching:
each host's CPU. Then `tui-perf top` in a real terminal (tmux, 160x60) until its summary
says all fifty are live, and for the measured window: the CPU of the `top` process as a
share of one core (goal <= 10%), its RSS, and each host's CPU again. The difference is what
a watching `top` adds to an agent, against the agent's own 1 Hz goal (<= 1% of a core: the
agent benchmark's <= 1% throughput loss, on a host that would use the core fully).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from benchmarks.harness import Comparison

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
AGENTS = 50


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def _host_cpu(hosts: list[subprocess.Popen[bytes]], seconds: float) -> list[float]:
    """Each host's CPU over `seconds`, as a share of one core."""
    procs = [psutil.Process(h.pid) for h in hosts]
    before, t0 = [_cpu(p) for p in procs], time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    return [(_cpu(p) - b) / wall for p, b in zip(procs, before, strict=True)]


def run(quick: bool) -> tuple[list[Comparison], dict[str, object]]:
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is needed for this benchmark (apt-get install tmux)")
    seconds = 20.0 if quick else 60.0
    baseline_s = 10.0 if quick else 30.0
    runtime = Path(tempfile.mkdtemp(prefix="tp-top-"))
    runtime.chmod(0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "PYTHONPATH": str(ROOT)}
    hosts: list[subprocess.Popen[bytes]] = []
    session = "tp-bench-top"
    try:
        for i in range(AGENTS):
            host = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.fleet_host"],
                cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            )  # fmt: skip
            assert host.stdout is not None
            if not host.stdout.readline().startswith(b"ready"):
                raise RuntimeError(f"host {i} did not start")
            hosts.append(host)
        print(f"  {AGENTS} hosts up; {baseline_s:.0f} s unwatched", flush=True)
        unwatched = _host_cpu(hosts, baseline_s)
        _tmux("kill-session", "-t", session)
        env_args = ["-e", f"XDG_RUNTIME_DIR={runtime}"]
        _tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "60", *env_args,
              f"{BIN / 'tui-perf'} top")  # fmt: skip
        t0, all_live = time.monotonic(), float("nan")
        while time.monotonic() - t0 < 60:
            if f"{AGENTS} live" in _tmux("capture-pane", "-t", session, "-p"):
                all_live = time.monotonic() - t0
                break
            time.sleep(0.1)
        pane_pid = int(_tmux("display-message", "-t", session, "-p", "#{pane_pid}").strip())
        top = next(
            p
            for p in [psutil.Process(pane_pid), *psutil.Process(pane_pid).children(True)]
            if "top" in " ".join(p.cmdline())
        )
        time.sleep(3)  # past start-up
        print(f"  all live after {all_live:.1f} s; {seconds:.0f} s watched", flush=True)
        c0, w0 = _cpu(top), time.monotonic()
        watched = _host_cpu(hosts, seconds)
        top_cpu = (_cpu(top) - c0) / (time.monotonic() - w0)
        top_rss = top.memory_info().rss / 2**20
        screen = _tmux("capture-pane", "-t", session, "-p")
    finally:
        _tmux("kill-session", "-t", session)
        for host in hosts:
            if host.stdin is not None:
                host.stdin.close()
        for host in hosts:
            try:
                host.wait(10)
            except subprocess.TimeoutExpired:
                host.kill()
        shutil.rmtree(runtime, ignore_errors=True)
    added = [w - u for w, u in zip(watched, unwatched, strict=True)]
    worst_watched = max(watched)
    rows = [
        Comparison(
            benchmark=f"tui-perf top over {AGENTS} agents at 1 Hz: CPU of top (share of a core)",
            ours=f"{top_cpu * 100:.1f}%",
            peer="(a goal, no peer)",
            ratio=top_cpu * 100,
            ratio_means="percent of one core, lower is better",
            goal="<= 10",
            met=top_cpu * 100 <= 10,
            note=f"RSS {top_rss:.0f} MiB; all {AGENTS} live {all_live:.1f} s after start",
        ),
        Comparison(
            benchmark="an agent watched by top: its CPU, worst of the 50 (share of a core)",
            ours=f"{worst_watched * 100:.2f}%",
            peer=f"{max(unwatched) * 100:.2f}% unwatched",
            ratio=worst_watched * 100,
            ratio_means="percent of one core, lower is better",
            goal="<= 1",
            met=worst_watched * 100 <= 1,
            note=f"added by watching: mean {statistics.fmean(added) * 100:.2f}, "
            f"worst {max(added) * 100:.2f} points",
        ),
    ]
    return rows, {
        "agents": AGENTS,
        "seconds": seconds,
        "top_cpu_share": top_cpu,
        "top_rss_mib": top_rss,
        "all_live_s": all_live,
        "host_cpu_unwatched": unwatched,
        "host_cpu_watched": watched,
        "last_screen": screen.splitlines()[:8],
    }
