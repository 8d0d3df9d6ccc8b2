"""`Profiler`: every thread's Python stack sampled into a `CallTree`, by CPU time.

Two drivers call the same round. Where it may (the main thread, no SIGPROF handler or
ITIMER_PROF of the program's own, a platform with setitimer), a CPU timer
(`cputimer.CpuTimer`): a tick per `1/rate` seconds of the process's CPU time, handled in the
main thread, so a burst shorter than the GIL's switch interval is seen while it runs.
Elsewhere, or when asked (`sampler="thread"`), a daemon thread that wakes `rate` times a
wall second; it runs only when it gets the GIL, so it sees short bursts late (the status
says which driver ran, and why the timer was refused).

A round reads `sys._current_frames()`, and for each thread its CPU clock. A thread is idle
when its innermost frame is blocked in a known waiting call, or when it used no CPU at all
since the last round: counted, not shown (as `py-spy top` without `--idle`). There is no
share threshold: a thread that used a little CPU is a thread that ran. A running thread's
sample weighs the CPU time it used since the last round, so the shares are shares of CPU.

Cost: the rounds' own CPU time over wall time. With `adaptive`, past `max_cost` the rate
halves (not below `min_hz`) and climbs back when the cost allows; without, the rate is the
rate asked for. `sample_once()` is the whole round, callable from a test with scripted clocks.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from types import CodeType, FrameType

from tui_perf.model.errors import ConfigError
from tui_perf.profile import cputimer
from tui_perf.profile.config import ProfilerConfig, ProfilerStatus, with_rate
from tui_perf.profile.cputimer import CpuTimer
from tui_perf.profile.frames import (
    OWN_THREAD_PREFIX,
    FrameKey,
    KeyCache,
    ThreadClocks,
    WaitDetector,
    frame_codes,
    hide_internals,
    running_tasks,
)
from tui_perf.profile.tree import CallTree, FunctionRow

__all__ = ["Profiler", "ProfilerConfig", "ProfilerStatus"]

#: the files of the sampler and its SIGPROF handler, whose frames sit on top of the main
#: thread's stack while a round runs there
_OWN_FILES = frozenset({__file__, cputimer.__file__})

Clock = Callable[[], float]
_ThreadInfo = tuple[str, "int | None"]

#: past this many distinct pending stacks (or frames in them) a round folds them at once,
#: so the pending table stays small whatever the program does
_PENDING_STACKS = 512
_PENDING_FRAMES = 32_768


class Profiler:
    """Start, stop, reset at run time; read `rows()`, `status()` and `tree_copy()`."""

    def __init__(
        self,
        config: ProfilerConfig | None = None,
        *,
        clock: Clock = time.monotonic,
        cpu_clock: Clock = time.thread_time,
        process_cpu: Clock = time.process_time,
        frames: Callable[[], dict[int, object]] = sys._current_frames,  # type: ignore[assignment]
        thread_clocks: ThreadClocks | None = None,
    ) -> None:
        self.config = config or ProfilerConfig()
        self.clock = clock
        self.cpu_clock = cpu_clock
        self.process_cpu = process_cpu
        self._frames = frames
        self.thread_clocks = thread_clocks or ThreadClocks()
        self.keys = KeyCache()
        self.waits = WaitDetector()
        self._tree = CallTree(self.config.limits)
        self.lock = threading.Lock()
        #: (thread name, task tag, code objects innermost first) -> [weight_s, samples]
        self._pending: dict[tuple[str, FrameKey | None, tuple[CodeType, ...]], list[float]] = {}
        self._pending_idle: dict[str, list[float]] = {}  # thread name -> [wall_s, samples]
        self._pending_frames = 0
        self._info: dict[int, _ThreadInfo] = {}
        self._info_at = float("-inf")
        self.rate_hz = self.config.rate_hz
        self._cpu: dict[int, float] = {}  # native id -> CPU seconds at the last round
        #: thread ident -> the pending key of its last running sample
        self._last_seen: dict[int, tuple[str, FrameKey | None, tuple[CodeType, ...]]] = {}
        self._last_round: float | None = None
        self._thread: threading.Thread | None = None
        self._timer: CpuTimer | None = None
        self._stop = threading.Event()
        self._own_ident: int | None = None
        # cost: the rounds' CPU seconds and the wall seconds they ran over, in total and
        # over the current window (for adapting the rate)
        self._cost_cpu = 0.0
        self._cost_wall = 0.0
        self._window: tuple[float, float] | None = None
        self._started_at: float | None = None
        self._duration = 0.0
        self._rounds = 0
        self._run_cpu = 0.0  # the process's CPU seconds while sampling (the timer's clock)
        self._cpu_at_start: float | None = None
        self.sampler = "thread"
        self.note = ""

    # -- control -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        if self._timer is not None:
            return self._timer.installed
        return self._thread is not None and self._thread.is_alive()

    def start(self, rate_hz: float | None = None) -> None:
        if rate_hz is not None:
            if not 0 < rate_hz <= 10_000:
                raise ConfigError(f"rate must be in (0, 10000] Hz, got {rate_hz}")
            self.config = with_rate(self.config, rate_hz)
            self.rate_hz = rate_hz
            if self._timer is not None:
                self._timer.set_rate(rate_hz)
        if self.running:
            return
        self._stop.clear()
        self._last_round = None
        self._cpu.clear()
        self._started_at = self.clock()
        self._cpu_at_start = self.process_cpu()
        if self.config.sampler == "auto":
            # the first round only reads the threads' clocks: take it now, so the first
            # tick already weighs the CPU used since the start
            with self.lock:
                self._round(None, None)
            timer = CpuTimer(self._timer_round, self.rate_hz, process_cpu=self.process_cpu)
            why = timer.install()
            if why is None:
                self._timer, self.sampler, self.note = timer, "cpu-timer", ""
                self._window = (0.0, self.clock())
                return
            self.note = f"CPU timer not used: {why}; sampling from a thread"
        self.sampler = "thread"
        self._thread = threading.Thread(target=self._run, name="tui-perf-profiler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.uninstall(timeout)
            self._cost_cpu += timer.cost_s
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if self._started_at is not None:
            spent = self.clock() - self._started_at
            self._duration += spent
            if timer is not None:
                self._cost_wall += spent
            self._started_at = None
        if self._cpu_at_start is not None:
            self._run_cpu += self.process_cpu() - self._cpu_at_start
            self._cpu_at_start = None

    def reset(self) -> None:
        with self.lock:
            self._tree = CallTree(self.config.limits)
            self._pending.clear()
            self._pending_idle.clear()
            self._pending_frames = 0
            self._cost_cpu = self._cost_wall = 0.0
            self._duration = self._run_cpu = 0.0
            self._rounds = 0
            if self._timer is not None:
                self._timer.cost_s = 0.0
            if self._started_at is not None:
                self._started_at = self.clock()
                self._cpu_at_start = self.process_cpu()

    # -- the round ---------------------------------------------------------------------

    def sample_once(self, main_frame: FrameType | None = None, skip: int | None = None) -> None:
        """Sample every thread once, and add the samples to the tree.

        `skip`: a thread left out (by default the calling one: a sampler thread). From the
        CPU timer's handler, `main_frame` is the main thread's interrupted frame (what
        `sys._current_frames` gives for it there is the handler's own) and nothing is
        skipped.

        The round only records each running thread's stack as a tuple of code objects and
        adds its weight to a pending table; `_fold` turns the pending stacks into the
        tree's rows once a second or when read. A hot loop repeats a few stacks, so the
        per-function bookkeeping is paid per distinct stack, not per sample: the round,
        paid with the host's GIL held, stays a few dict operations per thread.
        """
        if main_frame is None and skip is None:
            skip = threading.get_ident()
        # the handler may interrupt the main thread while it holds the lock (reading the
        # tree): skip the round then; the next one's CPU deltas cover this one's time
        if not self.lock.acquire(blocking=main_frame is None):
            return
        try:
            self._round(main_frame, skip)
        finally:
            self.lock.release()

    def _round(self, main_frame: FrameType | None, skip: int | None) -> None:
        now = self.clock()
        last, self._last_round = self._last_round, now
        wall = now - last if last is not None else 0.0
        frames = self._frames()
        main_ident = threading.main_thread().ident or 0
        if main_frame is not None:
            frames[main_ident] = main_frame
        info = self._thread_info(frames, now)
        tags = running_tasks() if self.config.tag_tasks else {}
        seen: dict[int, float] = {}
        show_idle = self.config.show_idle
        read_clock = self.thread_clocks.read
        pending, pending_idle = self._pending, self._pending_idle
        last_seen = self._last_seen
        if last is not None:
            self._rounds += 1
        for ident, frame in frames.items():
            if ident == skip:
                continue
            name, native = info[ident]
            cpu_now = read_clock(native)
            cpu_before = self._cpu.get(native) if native is not None else None
            if cpu_now is not None and native is not None:
                seen[native] = cpu_now
            if last is None:
                continue  # the first round only reads the clocks
            if cpu_now is not None and cpu_before is not None:
                used: float | None = max(0.0, cpu_now - cpu_before)
            elif cpu_now is not None:
                continue  # a thread new since the last round: its time starts now
            else:
                used = None
            # idle: what the thread is doing (a waiting call), or no CPU at all since
            # the last round; never a share of the interval, which dropped light threads
            idle = used == 0.0 or self.waits.waiting(frame)  # type: ignore[arg-type]
            weight = used if used is not None else wall
            if idle and used and not show_idle:
                # waiting now, but it ran since the last round (a burst that ended
                # before the round): its CPU goes to the stack it was last seen running,
                # as time without a sample, so each thread's CPU is counted whole
                # (never seen running: to the stack it waits in, whose caller did run)
                before = last_seen.get(ident)
                if before is None:
                    before = (name, tags.get(ident), frame_codes(frame))  # type: ignore[arg-type]
                carried = pending.get(before)
                if carried is None:  # folded since, or new: a row of time alone
                    pending[before] = [used, 0]
                    self._pending_frames += len(before[2])
                else:
                    carried[0] += used
            if idle and not show_idle:
                row = pending_idle.get(name)
                if row is None:
                    pending_idle[name] = [wall, 1]
                else:
                    row[0] += wall
                    row[1] += 1
                continue
            if ident == main_ident:  # a relay round while the handler runs: not its frames
                while frame is not None and frame.f_code.co_filename in _OWN_FILES:  # type: ignore[attr-defined]
                    frame = frame.f_back  # type: ignore[attr-defined]
            codes = frame_codes(frame)  # type: ignore[arg-type]
            key = (name, tags.get(ident), codes)
            last_seen[ident] = key
            row = pending.get(key)
            if row is None:
                pending[key] = [weight, 1]
                self._pending_frames += len(codes)
            else:
                row[0] += weight
                row[1] += 1
        if len(last_seen) > len(frames) + 64:  # threads that ended
            self._last_seen = {i: k for i, k in last_seen.items() if i in frames}
        if len(pending) > _PENDING_STACKS or self._pending_frames > _PENDING_FRAMES:
            self._fold()
        self._cpu = seen

    def _timer_round(self, main_frame: FrameType | None, skip: int | None) -> None:
        """A tick of the CPU timer: the round, then once a second the fold and the rate."""
        self.sample_once(main_frame, skip)
        timer = self._timer
        if timer is None or self._window is None:
            return
        wall = self.clock()
        if wall - self._window[1] >= 1.0:
            if self.lock.acquire(blocking=False):
                try:
                    self._fold()
                finally:
                    self.lock.release()
            if self._adapt(timer.cost_s, wall):
                timer.set_rate(self.rate_hz)

    def _thread_info(self, frames: dict[int, object], now: float) -> dict[int, _ThreadInfo]:
        """Thread ident -> (name, native id), re-read each second or when a thread is new."""
        info = self._info
        if now - self._info_at >= 1.0 or not info.keys() >= frames.keys():
            info = {t.ident: (t.name, t.native_id) for t in threading.enumerate() if t.ident}
            for ident in frames:  # a thread threading does not know (started from C)
                info.setdefault(ident, (f"thread {ident}", None))
            self._info, self._info_at = info, now
        return info

    def _fold(self) -> None:
        """Move the pending samples into the tree. The caller holds `self.lock`."""
        pending, self._pending = self._pending, {}
        idle, self._pending_idle = self._pending_idle, {}
        self._pending_frames = 0
        tree, key_of, internals = self._tree, self.keys.key, self.config.internals
        for (name, tag, codes), (weight, count) in pending.items():
            stack: list[FrameKey] | None = [key_of(code) for code in reversed(codes)]
            if not internals:
                stack = hide_internals(name, stack)  # type: ignore[arg-type]
                if stack is None:
                    continue
            assert stack is not None
            if tag is not None:
                stack.insert(0, tag)
            tree.add(name, stack, weight, int(count))
        for name, (weight, count) in idle.items():
            if internals or not name.startswith(OWN_THREAD_PREFIX):
                tree.add_idle(name, weight, int(count))

    @property
    def tree(self) -> CallTree:
        """The tree with every sample so far (read it under no lock of your own)."""
        with self.lock:
            self._fold()
            return self._tree

    def _run(self) -> None:
        self._own_ident = threading.get_ident()
        next_at = self.clock()
        cpu0, wall0 = self.cpu_clock(), self.clock()
        self._window = (cpu0, wall0)
        folded_at = wall0
        adaptive = self.config.adaptive
        while not self._stop.is_set():
            # the host's threads come and go mid-round: a round that trips is skipped
            with contextlib.suppress(Exception):
                self.sample_once()
            cpu, wall = self.cpu_clock(), self.clock()
            self._cost_cpu += cpu - cpu0
            self._cost_wall += wall - wall0
            cpu0, wall0 = cpu, wall
            if adaptive:
                self._adapt(cpu, wall)
            if wall - folded_at >= 1.0:  # readers see at most a second's lag unread
                with self.lock:
                    self._fold()
                folded_at = wall
            next_at += 1.0 / self.rate_hz
            delay = next_at - self.clock()
            if delay < 0:  # late (the GIL, a loaded machine): start again from now
                next_at = self.clock()
                delay = 0.0
            self._stop.wait(delay)

    def _adapt(self, cpu: float, wall: float) -> bool:
        """Every second: halve the rate if the sampler cost too much, climb back if not.
        `cpu`: the sampler's own CPU seconds so far. True when the rate changed."""
        if self._window is None:
            return False
        cpu_start, wall_start = self._window
        if wall - wall_start < 1.0:
            return False
        cost = (cpu - cpu_start) / (wall - wall_start)
        self._window = (cpu, wall)
        if not self.config.adaptive:
            return False
        target, before = self.config.rate_hz, self.rate_hz
        if cost > self.config.max_cost and self.rate_hz > self.config.min_hz:
            self.rate_hz = max(self.config.min_hz, self.rate_hz / 2)
        elif cost < self.config.max_cost / 4 and self.rate_hz < target:
            self.rate_hz = min(target, self.rate_hz * 2)
        return self.rate_hz != before

    # -- reading -----------------------------------------------------------------------

    def cost_fraction(self) -> float:
        """The rounds' CPU seconds over the wall seconds sampled (0 before)."""
        cpu, wall = self._cost_cpu, self._cost_wall
        timer = self._timer
        if timer is not None and self._started_at is not None:
            cpu += timer.cost_s
            wall += self.clock() - self._started_at
        return cpu / wall if wall > 0 else 0.0

    def status(self) -> ProfilerStatus:
        with self.lock:
            self._fold()
            tree = self._tree
            samples, idle, active = tree.samples, tree.idle_samples, tree.active_s
            threads = len(tree.threads)
        duration, run_cpu = self._duration, self._run_cpu
        if self._started_at is not None:
            duration += self.clock() - self._started_at
        if self._cpu_at_start is not None:
            run_cpu += self.process_cpu() - self._cpu_at_start
        base = run_cpu if self.sampler == "cpu-timer" else duration
        return ProfilerStatus(
            running=self.running,
            target_hz=self.config.rate_hz,
            rate_hz=self.rate_hz if self.running else 0.0,
            cost_fraction=self.cost_fraction(),
            samples=samples,
            idle_samples=idle,
            active_s=active,
            duration_s=duration,
            threads=threads,
            clock="cpu" if self.thread_clocks.available else "wall",
            sampler=self.sampler,
            mode="adaptive" if self.config.adaptive else "fixed",
            achieved_hz=self._rounds / base if base > 0 else 0.0,
            rounds=self._rounds,
            note=self.note,
        )

    def rows(self, thread: str | None = None) -> list[FunctionRow]:
        with self.lock:
            self._fold()
            return self._tree.rows(thread)

    def tree_copy(self) -> CallTree:
        with self.lock:
            self._fold()
            return self._tree.copy()
