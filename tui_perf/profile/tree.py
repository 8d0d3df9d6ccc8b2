"""`CallTree`: samples aggregated by function and by stack, in bounded memory.

Two tables, both capped:

- per function (all threads, and per thread): own and total time. Total counts a function
  once per sample however many times it recurses, so no function passes 100%.
- per stack (a root-to-leaf path of the call tree, the thread's name as its root): the
  weight of each distinct path, what the folded and speedscope exports are made of.

Past `max_stacks` distinct paths a new path is kept as its thread, an `(other stacks)` frame
and its leaf (still right in the function table); past `max_stacks + max_overflow`, as the
thread and `(other stacks)` alone. Paths deeper than `max_depth` keep their innermost frames
under a `(truncated)` frame. `TreeLimits.bytes_bound()` says what that costs at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tui_perf.model.errors import ConfigError
from tui_perf.profile.frames import FrameKey

OTHER_STACKS = FrameKey("(other stacks)", "", 0)
OTHER_FUNCTIONS = FrameKey("(other functions)", "", 0)
TRUNCATED = FrameKey("(truncated)", "", 0)
OTHER_THREADS = "(other threads)"

#: measured on CPython 3.11 (tests/test_profile_tree.py checks the bound with tracemalloc):
#: a dict slot and its list [weight, count], and a tuple of references per path
_PATH_BYTES = 280
_PER_FRAME_BYTES = 8
_FUNCTION_BYTES = 420


@dataclass(frozen=True, slots=True)
class TreeLimits:
    max_stacks: int = 2000
    max_overflow: int = 500
    max_depth: int = 128
    max_functions: int = 5000
    max_threads: int = 64

    def __post_init__(self) -> None:
        for name in ("max_stacks", "max_depth", "max_functions", "max_threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_overflow < 0:
            raise ConfigError(f"max_overflow must be 0 or more, got {self.max_overflow}")

    def bytes_bound(self) -> int:
        """The most the tables can hold, in bytes (frame keys themselves are shared)."""
        paths = (self.max_stacks + self.max_overflow + self.max_threads) * (
            _PATH_BYTES + _PER_FRAME_BYTES * (self.max_depth + 2)
        )
        # the all-threads table, the per-thread table, and one overflow key per function
        functions = (self.max_functions + 1) * _FUNCTION_BYTES * 2
        return paths + functions


@dataclass(frozen=True, slots=True)
class FunctionRow:
    key: FrameKey
    own_s: float
    total_s: float
    own_samples: int
    total_samples: int


Stack = tuple[object, ...]  # (thread name, FrameKey, FrameKey, ...)


class CallTree:
    """Aggregated samples. Not thread-safe: the sampler owns it; readers take `copy`s."""

    def __init__(self, limits: TreeLimits | None = None) -> None:
        self.limits = limits or TreeLimits()
        #: FrameKey -> [own_s, total_s, own_samples, total_samples]
        self.functions: dict[FrameKey, list[float]] = {}
        #: (thread, FrameKey) -> the same four
        self.thread_functions: dict[tuple[str, FrameKey], list[float]] = {}
        #: path -> [weight_s, samples]
        self.stacks: dict[Stack, list[float]] = {}
        self.threads: dict[str, list[float]] = {}  # thread -> [active_s, idle_s]
        self.samples = 0
        self.idle_samples = 0
        self.active_s = 0.0
        self.idle_s = 0.0
        self.dropped_functions = 0

    def add(self, thread: str, frames: Sequence[FrameKey], weight: float, samples: int = 1) -> None:
        """`samples` samples of a running thread with one stack: `frames` outermost first,
        `weight` seconds in all."""
        self.samples += samples
        self.active_s += weight
        thread = self._thread(thread)
        self.threads[thread][0] += weight
        if not frames:
            return
        seen: set[FrameKey] = set()
        leaf = frames[-1]
        for key in frames:
            if key in seen:
                continue  # recursion: a function is on this sample's stack once
            seen.add(key)
            is_leaf = key == leaf
            self._bump(self.functions, key, OTHER_FUNCTIONS, weight, samples, is_leaf)
            self._bump(
                self.thread_functions,
                (thread, key),
                (thread, OTHER_FUNCTIONS),
                weight,
                samples,
                is_leaf,
            )
        self._add_stack(thread, frames, weight, samples)

    def _bump(
        self,
        table: dict[Any, list[float]],
        key: Any,
        other: Any,
        weight: float,
        samples: int,
        leaf: bool,
    ) -> None:
        row = table.get(key)
        if row is None:
            if len(table) >= self.limits.max_functions:
                self.dropped_functions += 1
                key = other
                row = table.get(key)
            if row is None:
                row = table[key] = [0.0, 0.0, 0, 0]
        row[1] += weight
        row[3] += samples
        if leaf:
            row[0] += weight
            row[2] += samples

    def add_idle(self, thread: str, weight: float, samples: int = 1) -> None:
        self.idle_samples += samples
        self.idle_s += weight
        self.threads[self._thread(thread)][1] += weight

    def _thread(self, thread: str) -> str:
        if thread not in self.threads:
            if len(self.threads) >= self.limits.max_threads:
                thread = OTHER_THREADS
            self.threads.setdefault(thread, [0.0, 0.0])
        return thread

    def _add_stack(
        self, thread: str, frames: Sequence[FrameKey], weight: float, samples: int
    ) -> None:
        limits = self.limits
        if len(frames) > limits.max_depth:
            path: Stack = (thread, TRUNCATED, *frames[len(frames) - limits.max_depth + 1 :])
        else:
            path = (thread, *frames)
        row = self.stacks.get(path)
        if row is None:
            size = len(self.stacks)
            if size >= limits.max_stacks + limits.max_overflow:
                path = (thread, OTHER_STACKS)
            elif size >= limits.max_stacks:
                path = (thread, OTHER_STACKS, frames[-1])
            row = self.stacks.get(path)
            if row is None:
                row = self.stacks[path] = [0.0, 0]
        row[0] += weight
        row[1] += samples

    # -- reading -----------------------------------------------------------------------

    def rows(self, thread: str | None = None) -> list[FunctionRow]:
        """Every function, for all threads or one, by own time (largest first)."""
        if thread is None:
            items = list(self.functions.items())
        else:
            items = [(k, v) for (t, k), v in self.thread_functions.items() if t == thread]
        out = [FunctionRow(k, v[0], v[1], int(v[2]), int(v[3])) for k, v in items]
        out.sort(key=lambda r: (-r.own_s, -r.total_s, r.key))
        return out

    def copy(self) -> CallTree:
        """A copy readers may keep while the sampler goes on (rows are copied too)."""
        other = CallTree(self.limits)
        other.functions = {k: list(v) for k, v in self.functions.items()}
        other.thread_functions = {k: list(v) for k, v in self.thread_functions.items()}
        other.stacks = {k: list(v) for k, v in self.stacks.items()}
        other.threads = {k: list(v) for k, v in self.threads.items()}
        other.samples = self.samples
        other.idle_samples = self.idle_samples
        other.active_s = self.active_s
        other.idle_s = self.idle_s
        other.dropped_functions = self.dropped_functions
        return other
