"""`Profiler`: a daemon thread that samples every thread's Python stack into a `CallTree`.

Each round reads `sys._current_frames()`, and for each thread its CPU clock. A thread that
burned (almost) no CPU since the last round, or whose innermost frame is blocked in a known
waiting call, is idle: counted, not shown (as `py-spy top` without `--idle`). A running
thread's sample weighs the CPU time it used since the last round, so the shares are shares
of CPU time even on a machine where the process is not always scheduled.

The sampler measures its own cost: its thread's CPU time over wall time. When that passes
`max_cost` it halves its rate (not below `min_hz`), and climbs back when the cost allows.
`sample_once()` is the whole round, callable from a test with scripted clocks.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import CodeType, FrameType

from tui_perf.model.errors import ConfigError
from tui_perf.profile.frames import FrameKey, KeyCache, ThreadClocks, WaitDetector
from tui_perf.profile.tree import CallTree, FunctionRow, TreeLimits

Clock = Callable[[], float]
_ThreadInfo = tuple[str, "int | None"]

#: past this many distinct pending stacks (or frames in them) a round folds them at once,
#: so the pending table stays small whatever the program does
_PENDING_STACKS = 512
_PENDING_FRAMES = 32_768


@dataclass(frozen=True, slots=True)
class ProfilerConfig:
    rate_hz: float = 100.0
    #: the sampler's own CPU over wall time above which it halves its rate
    max_cost: float = 0.01
    min_hz: float = 10.0
    #: a thread that used less CPU than this fraction of the interval was not running
    idle_cpu_fraction: float = 0.05
    show_idle: bool = False
    #: tag samples of a thread running an asyncio task with the task's name
    tag_tasks: bool = True
    #: drop the frames of whatever launched the program through runpy (`tui-perf profile
    #: script.py` shows the script's own stacks, as `py-spy record -- python script.py` does)
    hide_launcher: bool = False
    limits: TreeLimits = field(default_factory=TreeLimits)

    def __post_init__(self) -> None:
        if not 0 < self.rate_hz <= 10_000:
            raise ConfigError(f"rate must be in (0, 10000] Hz, got {self.rate_hz}")
        if not 0 < self.min_hz <= self.rate_hz:
            raise ConfigError(f"min_hz must be in (0, rate], got {self.min_hz}")
        if not 0 < self.max_cost <= 1:
            raise ConfigError(f"max_cost must be in (0, 1], got {self.max_cost}")


@dataclass(frozen=True, slots=True)
class ProfilerStatus:
    running: bool
    target_hz: float
    rate_hz: float
    cost_fraction: float
    samples: int
    idle_samples: int
    active_s: float
    duration_s: float
    threads: int
    clock: str


class Profiler:
    """Start, stop, reset at run time; read `rows()`, `status()` and `tree_copy()`."""

    def __init__(
        self,
        config: ProfilerConfig | None = None,
        *,
        clock: Clock = time.monotonic,
        cpu_clock: Clock = time.thread_time,
        frames: Callable[[], dict[int, object]] = sys._current_frames,  # type: ignore[assignment]
        thread_clocks: ThreadClocks | None = None,
    ) -> None:
        self.config = config or ProfilerConfig()
        self.clock = clock
        self.cpu_clock = cpu_clock
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
        self._last_round: float | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._own_ident: int | None = None
        # cost: the sampler thread's CPU seconds and the wall seconds it ran, in total and
        # over the current window (for adapting the rate)
        self._cost_cpu = 0.0
        self._cost_wall = 0.0
        self._window: tuple[float, float] | None = None
        self._started_at: float | None = None
        self._duration = 0.0

    # -- control -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, rate_hz: float | None = None) -> None:
        if rate_hz is not None:
            if not 0 < rate_hz <= 10_000:
                raise ConfigError(f"rate must be in (0, 10000] Hz, got {rate_hz}")
            self.config = _replace_rate(self.config, rate_hz)
            self.rate_hz = rate_hz
        if self.running:
            return
        self._stop.clear()
        self._last_round = None
        self._cpu.clear()
        self._started_at = self.clock()
        self._thread = threading.Thread(target=self._run, name="tui-perf-profiler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if self._started_at is not None:
            self._duration += self.clock() - self._started_at
            self._started_at = None

    def reset(self) -> None:
        with self.lock:
            self._tree = CallTree(self.config.limits)
            self._pending.clear()
            self._pending_idle.clear()
            self._pending_frames = 0
            self._cost_cpu = self._cost_wall = 0.0
            self._duration = 0.0
            if self._started_at is not None:
                self._started_at = self.clock()

    # -- the round ---------------------------------------------------------------------

    def sample_once(self) -> None:
        """Sample every thread but this one once, and add the samples to the tree.

        The round only records each running thread's stack as a tuple of code objects and
        adds its weight to a pending table; `_fold` turns the pending stacks into the
        tree's rows once a second or when read. A hot loop repeats a few stacks, so the
        per-function bookkeeping is paid per distinct stack, not per sample: the round,
        paid with the host's GIL held, stays a few dict operations per thread.
        """
        now = self.clock()
        last, self._last_round = self._last_round, now
        wall = now - last if last is not None else 0.0
        me = threading.get_ident()
        frames = self._frames()
        info = self._thread_info(frames, now)
        tags = _running_tasks() if self.config.tag_tasks else {}
        seen: dict[int, float] = {}
        config = self.config
        read_clock = self.thread_clocks.read
        with self.lock:
            pending, pending_idle = self._pending, self._pending_idle
            for ident, frame in frames.items():
                if ident == me:
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
                idle = self.waits.waiting(frame) or (  # type: ignore[arg-type]
                    used is not None and used < config.idle_cpu_fraction * wall
                )
                weight = used if used is not None else wall
                if idle and not config.show_idle:
                    row = pending_idle.get(name)
                    if row is None:
                        pending_idle[name] = [wall, 1]
                    else:
                        row[0] += wall
                        row[1] += 1
                    continue
                codes = _codes(frame)  # type: ignore[arg-type]
                key = (name, tags.get(ident), codes)
                row = pending.get(key)
                if row is None:
                    pending[key] = [weight, 1]
                    self._pending_frames += len(codes)
                else:
                    row[0] += weight
                    row[1] += 1
            if len(pending) > _PENDING_STACKS or self._pending_frames > _PENDING_FRAMES:
                self._fold()
        self._cpu = seen

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
        tree, key_of, hide = self._tree, self.keys.key, self.config.hide_launcher
        for (name, tag, codes), (weight, count) in pending.items():
            stack = [key_of(code) for code in reversed(codes)]
            if hide:
                stack = _after_launcher(stack)
            if tag is not None:
                stack.insert(0, tag)
            tree.add(name, stack, weight, int(count))
        for name, (weight, count) in idle.items():
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
        while not self._stop.is_set():
            # the host's threads come and go mid-round: a round that trips is skipped
            with contextlib.suppress(Exception):
                self.sample_once()
            cpu, wall = self.cpu_clock(), self.clock()
            self._cost_cpu += cpu - cpu0
            self._cost_wall += wall - wall0
            cpu0, wall0 = cpu, wall
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

    def _adapt(self, cpu: float, wall: float) -> None:
        """Every second: halve the rate if the sampler cost too much, climb back if not."""
        assert self._window is not None
        cpu_start, wall_start = self._window
        if wall - wall_start < 1.0:
            return
        cost = (cpu - cpu_start) / (wall - wall_start)
        self._window = (cpu, wall)
        target = self.config.rate_hz
        if cost > self.config.max_cost and self.rate_hz > self.config.min_hz:
            self.rate_hz = max(self.config.min_hz, self.rate_hz / 2)
        elif cost < self.config.max_cost / 4 and self.rate_hz < target:
            self.rate_hz = min(target, self.rate_hz * 2)

    # -- reading -----------------------------------------------------------------------

    def cost_fraction(self) -> float:
        """The sampler thread's CPU seconds over the wall seconds it ran (0 before)."""
        return self._cost_cpu / self._cost_wall if self._cost_wall > 0 else 0.0

    def status(self) -> ProfilerStatus:
        with self.lock:
            self._fold()
            tree = self._tree
            samples, idle, active = tree.samples, tree.idle_samples, tree.active_s
            threads = len(tree.threads)
        duration = self._duration
        if self._started_at is not None:
            duration += self.clock() - self._started_at
        rounds_rate = self.rate_hz if self.running else 0.0
        return ProfilerStatus(
            running=self.running,
            target_hz=self.config.rate_hz,
            rate_hz=rounds_rate,
            cost_fraction=self.cost_fraction(),
            samples=samples,
            idle_samples=idle,
            active_s=active,
            duration_s=duration,
            threads=threads,
            clock="cpu" if self.thread_clocks.available else "wall",
        )

    def rows(self, thread: str | None = None) -> list[FunctionRow]:
        with self.lock:
            self._fold()
            return self._tree.rows(thread)

    def tree_copy(self) -> CallTree:
        with self.lock:
            self._fold()
            return self._tree.copy()


def _codes(frame: FrameType | None) -> tuple[CodeType, ...]:
    """The code objects of a thread's frames, innermost first."""
    codes = []
    while frame is not None:
        codes.append(frame.f_code)
        frame = frame.f_back
    return tuple(codes)


def _after_launcher(stack: list[FrameKey]) -> list[FrameKey]:
    """The frames below the last runpy frame: the program's own, without its launcher."""
    for i in range(len(stack) - 1, -1, -1):
        file = stack[i].file
        if file == "<frozen runpy>" or file.endswith(("/runpy.py", "\\runpy.py")):
            return stack[i + 1 :]
    return stack


def _replace_rate(config: ProfilerConfig, rate_hz: float) -> ProfilerConfig:
    import dataclasses

    return dataclasses.replace(config, rate_hz=rate_hz, min_hz=min(config.min_hz, rate_hz))


def _running_tasks() -> dict[int, FrameKey]:
    """Thread ident -> a tag frame naming the asyncio task that thread is running now.

    Read from asyncio's table of current tasks (loop -> task) and each loop's thread id;
    nothing when asyncio was never imported or its internals are not what we read.
    """
    tasks = sys.modules.get("asyncio.tasks")
    if tasks is None:
        return {}
    out: dict[int, FrameKey] = {}
    try:
        current = dict(getattr(tasks, "_current_tasks", {}))
        for loop, task in current.items():
            ident = getattr(loop, "_thread_id", None)
            if isinstance(ident, int):
                out[ident] = FrameKey(f"[task {task.get_name()}]", "<asyncio>", 0)
    except Exception:
        return {}
    return out
