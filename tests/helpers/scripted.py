"""Scripted clocks and probes: tests decide exactly what the engine sees."""

from __future__ import annotations

import os
from collections.abc import Iterable

from tui_perf.engine.sampler import ProcessReading

MiB = 1024 * 1024


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedProbe:
    """Returns scripted readings; `rss` may be set between ticks."""

    def __init__(self, rss: int = 100 * MiB, pid: int | None = None) -> None:
        self.pid = os.getpid() if pid is None else pid
        self.rss = rss
        self.vms = 4 * rss
        self.cpu_time = 0.0
        self.threads = 3
        self.fds: int | None = 9
        self.full_calls = 0
        self.uss = rss // 2
        self.rss_script: list[int] = []

    def script(self, values: Iterable[int]) -> None:
        self.rss_script.extend(values)

    def read(self) -> ProcessReading:
        if self.rss_script:
            self.rss = self.rss_script.pop(0)
        return ProcessReading(self.rss, self.vms, self.cpu_time, self.threads)

    def open_fds(self) -> int | None:
        return self.fds

    def full_info(self) -> tuple[int, int | None]:
        self.full_calls += 1
        return self.uss, self.uss + 1
