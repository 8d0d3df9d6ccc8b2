"""The profiler's settings and the status it reports, frozen: they cross threads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from tui_perf.model.errors import ConfigError
from tui_perf.profile.tree import TreeLimits


@dataclass(frozen=True, slots=True)
class ProfilerConfig:
    rate_hz: float = 100.0
    #: False: `rate_hz` is the rate. True: it is the most, halved while the sampler's own
    #: CPU over wall time passes `max_cost`
    adaptive: bool = True
    max_cost: float = 0.01
    min_hz: float = 10.0
    #: "auto": the CPU timer where it may run, else the thread; "thread": the thread
    sampler: str = "auto"
    show_idle: bool = False
    #: tag samples of a thread running an asyncio task with the task's name
    tag_tasks: bool = True
    #: show tui-perf's own threads and the frames that launched the program
    #: (`frames.hide_internals` decides what is ours)
    internals: bool = False
    limits: TreeLimits = field(default_factory=TreeLimits)

    def __post_init__(self) -> None:
        if self.sampler not in ("auto", "thread"):
            raise ConfigError(f"sampler must be auto or thread, got {self.sampler!r}")
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
    #: "cpu-timer" or "thread": the driver of the last start
    sampler: str = "thread"
    #: "fixed" or "adaptive"
    mode: str = "adaptive"
    #: rounds per second achieved: of the process's CPU time for the CPU timer (its
    #: clock), of wall time for the thread
    achieved_hz: float = 0.0
    rounds: int = 0
    #: why the CPU timer was not used, when it was not
    note: str = ""


def with_rate(config: ProfilerConfig, rate_hz: float) -> ProfilerConfig:
    """The same settings at another rate (the floor lowered to it if need be)."""
    return dataclasses.replace(config, rate_hz=rate_hz, min_hz=min(config.min_hz, rate_hz))
