"""The in-process sampler driven by CPU time (#31): short bursts counted, light threads kept.

Every figure here is a count or a share of CPU time measured by the threads' own clocks, so
it holds on a loaded machine: the CPU timer ticks per CPU second of this process, whatever
the neighbours take, and each sample weighs the CPU its thread used.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from tui_perf.profile.cputimer import RELAY_SWITCH_S, refusal
from tui_perf.profile.frames import FrameKey, hide_internals
from tui_perf.profile.sampler import Profiler, ProfilerConfig

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "setitimer"), reason="no setitimer on this platform"
)

_DOC = json.dumps({"items": [{"id": i, "name": f"item {i}"} for i in range(60)]})
_ITEM = re.compile(r'"name": "item (\d+)"')


def handle_request() -> None:
    """3 ms of this thread's CPU time in JSON and regex work: one request."""
    t0 = time.thread_time()
    while time.thread_time() - t0 < 0.003:
        json.loads(_DOC)
        _ITEM.findall(_DOC)


@pytest.fixture
def timer_profiler() -> Iterator[Profiler]:
    profiler = Profiler(ProfilerConfig(rate_hz=100, adaptive=False))
    try:
        yield profiler
    finally:
        profiler.stop()


def test_bursts_shorter_than_the_switch_interval_are_counted(timer_profiler: Profiler) -> None:
    """A 3 ms burst then a 10 ms sleep, 120 times (about 0.36 s of CPU): the thread sampler
    saw one sample in six seconds of this (#31, item 1); ticks of CPU time fall in the
    bursts, so the samples follow the CPU used."""
    profiler = timer_profiler
    profiler.start()
    assert profiler.sampler == "cpu-timer", profiler.note
    cpu0 = time.thread_time()
    for _ in range(120):
        handle_request()
        time.sleep(0.010)
    burst_cpu = time.thread_time() - cpu0
    profiler.stop()
    rows = {r.key.function: r for r in profiler.rows(threading.current_thread().name)}
    handled = rows["handle_request"]
    # about CPU x rate samples (36 here): half of it is a floor no loaded machine breaks
    assert handled.total_samples >= 0.5 * burst_cpu * 100, (handled, burst_cpu)
    # and the CPU time they weigh is the thread's, nearly all in the requests
    assert handled.total_s >= 0.8 * burst_cpu, (handled.total_s, burst_cpu)
    status = profiler.status()
    assert status.sampler == "cpu-timer" and status.mode == "fixed" and status.rounds > 0


def _spin(units: int) -> None:
    x = 0
    for i in range(units):
        x += i * i


def test_a_light_thread_beside_a_busy_one_keeps_its_share(timer_profiler: Profiler) -> None:
    """A busy worker, a light one (a short step, then a short sleep), two blocked threads
    and the main thread joining them (the relay samples: the handler waits for the main
    thread). The light thread's share of the sampled CPU is its share of the truth, within 3
    points; a share threshold had dropped it (#31, item 2)."""
    truth: dict[str, float] = {}
    done = threading.Event()

    def heavy() -> None:
        t0 = time.thread_time()
        for _ in range(150):
            _spin(100_000)
        truth["heavy"] = time.thread_time() - t0
        done.set()

    def light() -> None:
        t0 = time.thread_time()
        while not done.is_set():
            light_step()
            time.sleep(0.002)
        truth["light"] = time.thread_time() - t0

    def light_step() -> None:
        _spin(10_000)

    stop = threading.Event()
    inbox: queue.Queue[int] = queue.Queue()
    blocked = [
        threading.Thread(target=stop.wait, name="blocked-event", daemon=True),
        threading.Thread(target=inbox.get, name="blocked-queue", daemon=True),
    ]
    workers = [threading.Thread(target=heavy, name="heavy"), threading.Thread(target=light)]
    workers[1].name = "light"
    profiler = timer_profiler
    profiler.start()
    for t in blocked + workers:
        t.start()
    for t in workers:
        t.join()
    profiler.stop()
    stop.set()
    inbox.put(0)
    threads = profiler.tree.threads
    sampled = {name: threads.get(name, [0.0, 0.0])[0] for name in ("heavy", "light")}
    true_share = 100 * truth["light"] / (truth["light"] + truth["heavy"])
    share = 100 * sampled["light"] / (sampled["light"] + sampled["heavy"])
    assert abs(share - true_share) <= 3.0, (share, true_share, truth, sampled)
    assert true_share > 1.0  # the light thread did run: the check above means something
    # the blocked threads are idle, not shown
    assert threads.get("blocked-event", [0.0])[0] == 0.0
    assert threads.get("blocked-queue", [0.0])[0] == 0.0
    assert sys.getswitchinterval() != RELAY_SWITCH_S  # put back


def test_a_program_s_own_sigprof_handler_is_never_replaced() -> None:
    def mine(signum: int, frame: object) -> None:
        pass

    before = signal.signal(signal.SIGPROF, mine)
    try:
        profiler = Profiler(ProfilerConfig(rate_hz=100))
        profiler.start()
        try:
            assert profiler.sampler == "thread"
            assert "the program has its own SIGPROF handler" in profiler.note
            assert profiler.status().note == profiler.note
            assert signal.getsignal(signal.SIGPROF) is mine
        finally:
            profiler.stop()
    finally:
        signal.signal(signal.SIGPROF, before)


def test_stop_puts_back_the_handler_and_the_timer() -> None:
    assert signal.getsignal(signal.SIGPROF) is signal.SIG_DFL
    profiler = Profiler(ProfilerConfig(rate_hz=100))
    profiler.start()
    assert profiler.sampler == "cpu-timer"
    assert signal.getitimer(signal.ITIMER_PROF)[1] == pytest.approx(0.01)
    profiler.stop()
    assert signal.getsignal(signal.SIGPROF) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)
    assert not profiler.running


def test_off_the_main_thread_the_thread_sampler_runs_and_says_why() -> None:
    got: list[str] = []

    def start() -> None:
        got.append(refusal() or "")

    t = threading.Thread(target=start)
    t.start()
    t.join()
    assert got == ["started off the main thread (a signal handler can only be set there)"]


# -- our own frames ---------------------------------------------------------------------------

PKG = "/site/tui_perf"


def key(function: str, file: str) -> FrameKey:
    return FrameKey(function, file, 1)


def test_the_launcher_above_the_program_is_cut_and_our_threads_dropped() -> None:
    launched = [
        key("<module>", "<frozen runpy>"),
        key("main", f"{PKG}/cli/main.py"),
        key("run_program", f"{PKG}/agent/bootstrap.py"),
        key("run_path", "/usr/lib/python3.11/runpy.py"),
        key("<module>", "/srv/app/server.py"),
        key("get", f"{PKG}/caches/multilevel.py"),  # the library, called by the program
    ]
    assert hide_internals("MainThread", launched, PKG) == launched[4:]
    assert hide_internals("tui-perf-engine", [key("run", "/srv/x.py")], PKG) is None
    ours = [key("_bootstrap", f"{PKG}/x.py"), key("loop", f"{PKG}/y.py")]
    assert hide_internals("Thread-3", ours, PKG) is None
    assert hide_internals("MainThread", launched[:4], PKG) is None  # not started yet
    plain = [key("<module>", "/srv/app/server.py")]
    assert hide_internals("MainThread", plain, PKG) == plain
