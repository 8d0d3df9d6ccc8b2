"""Reading a process: memory, CPU, threads, file descriptors, the garbage collector.

Cheap by default. On Linux a `pread` of `/proc/<pid>/statm` (kept open) gives RSS and VMS
and `time.process_time()` the CPU time, together a fifth of one
`psutil.Process().memory_info()`; the thread count comes from `/proc/<pid>/stat` every 5 s
(for another process, one read of `stat` gives all four). Costly probes are opt-in and
rate-limited:

- USS/PSS (`memory_full_info`) walks the page tables through smaps and costs tens of ms on
  a large heap: at most every `full_info_interval` seconds (30 s by default).
- tracemalloc slows a program 3x or more: only when asked.
- Listing open file descriptors costs as much as the rest of a reading: every 5 s.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psutil

from tui_perf.model.errors import ProcessAccessError
from tui_perf.model.fastinit import fast_init
from tui_perf.model.snapshot import MemorySample

Clock = Callable[[], float]

# cgroup v1 reports "no limit" as a huge page-aligned number rather than "max".
_CGROUP_V1_UNLIMITED = 1 << 60


@fast_init
@dataclass(frozen=True, slots=True)
class ProcessReading:
    """The cheap, every-tick part of a process reading."""

    rss: int
    vms: int
    cpu_time: float
    num_threads: int


class ProcessProbe(Protocol):
    """Where readings come from; tests inject scripted ones."""

    pid: int

    def read(self) -> ProcessReading: ...

    def open_fds(self) -> int | None: ...

    def full_info(self) -> tuple[int, int | None]:
        """(USS, PSS) in bytes; PSS is None where the platform lacks it."""
        ...


def _access_error(pid: int, what: str, exc: BaseException) -> ProcessAccessError:
    if isinstance(exc, psutil.NoSuchProcess | ProcessLookupError | FileNotFoundError):
        return ProcessAccessError(f"no process with pid {pid}")
    return ProcessAccessError(
        f"not permitted to read {what} of pid {pid} (run as its owner or as root)"
    )


class PsutilProbe:
    """Portable probe on psutil; also the source of USS/PSS and fds on every platform."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = os.getpid() if pid is None else pid
        try:
            self._process = psutil.Process(self.pid)
        except (psutil.Error, OSError) as exc:
            raise _access_error(self.pid, "the state", exc) from exc

    def read(self) -> ProcessReading:
        p = self._process
        try:
            with p.oneshot():
                mem = p.memory_info()
                cpu = p.cpu_times()
                threads = p.num_threads()
        except (psutil.Error, OSError) as exc:
            raise _access_error(self.pid, "the memory", exc) from exc
        return ProcessReading(mem.rss, mem.vms, cpu.user + cpu.system, threads)

    def open_fds(self) -> int | None:
        try:
            if hasattr(self._process, "num_fds"):
                return int(self._process.num_fds())
            return int(self._process.num_handles())  # type: ignore[attr-defined]
        except psutil.AccessDenied:
            return None  # another user's fds: show "unknown", the rest still reads
        except (psutil.Error, OSError) as exc:
            raise _access_error(self.pid, "the file descriptors", exc) from exc

    def full_info(self) -> tuple[int, int | None]:
        try:
            info = self._process.memory_full_info()
        except (psutil.Error, OSError) as exc:
            raise _access_error(self.pid, "the memory maps", exc) from exc
        return int(info.uss), getattr(info, "pss", None)


class ProcStatProbe(PsutilProbe):
    """Linux: `pread`s of files under `/proc/<pid>/`, on descriptors kept open.

    Another process: `stat` each reading (RSS, VMS, CPU time, threads in one read). This
    process: `statm` (a third of `stat`'s cost to the kernel) with `time.process_time()` for
    the CPU time, and the thread count from `stat` at most every `threads_interval` seconds,
    as it changes slowly (the fds count is rate-limited the same way, by the sampler).
    """

    def __init__(
        self,
        pid: int | None = None,
        procfs: str = "/proc",
        *,
        threads_interval: float = 5.0,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(pid)
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._tick = float(os.sysconf("SC_CLK_TCK"))
        self._fd_dir = f"{procfs}/{self.pid}/fd"
        self._statm_fd: int | None = None
        self._stat_fd: int | None = None
        try:
            self._stat_fd = os.open(f"{procfs}/{self.pid}/stat", os.O_RDONLY)
            if self.pid == os.getpid():
                self._statm_fd = os.open(f"{procfs}/{self.pid}/statm", os.O_RDONLY)
        except OSError as exc:
            self.close()
            raise _access_error(self.pid, "the state", exc) from exc
        self.threads_interval = threads_interval
        self._clock = clock
        self._threads: tuple[float, int] | None = None  # (when read, count)

    def read(self) -> ProcessReading:
        if self._statm_fd is None or os.getpid() != self.pid:  # another process (or forked)
            return self._read_stat()
        try:
            data = os.pread(self._statm_fd, 256, 0)
        except OSError as exc:
            raise _access_error(self.pid, "the memory", exc) from exc
        size, resident = data.split(None, 2)[:2]
        now = self._clock()
        threads = self._threads
        if threads is None or now - threads[0] >= self.threads_interval:
            threads = self._threads = (now, self._read_stat().num_threads)
        return ProcessReading(
            rss=int(resident) * self._page,
            vms=int(size) * self._page,
            cpu_time=time.process_time(),
            num_threads=threads[1],
        )

    def _read_stat(self) -> ProcessReading:
        if self._stat_fd is None:
            raise ProcessAccessError(f"the probe of pid {self.pid} is closed")
        try:
            data = os.pread(self._stat_fd, 4096, 0)
        except OSError as exc:
            raise _access_error(self.pid, "the state", exc) from exc
        if not data:  # the process is gone: the kernel returns nothing
            raise ProcessAccessError(f"no process with pid {self.pid}")
        # The command name (field 2) may hold spaces and parentheses: split after the last ")".
        fields = data[data.rfind(b")") + 2 :].split(None, 22)
        return ProcessReading(
            rss=int(fields[21]) * self._page,
            vms=int(fields[20]),
            cpu_time=(int(fields[11]) + int(fields[12])) / self._tick,
            num_threads=int(fields[17]),
        )

    def open_fds(self) -> int | None:
        try:
            return len(os.listdir(self._fd_dir))
        except PermissionError:
            return None
        except OSError as exc:
            raise _access_error(self.pid, "the file descriptors", exc) from exc

    def close(self) -> None:
        for name in ("_stat_fd", "_statm_fd"):
            fd = getattr(self, name, None)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, None)

    def __del__(self) -> None:
        self.close()


def default_probe(pid: int | None = None) -> PsutilProbe:
    """The cheapest probe for this platform; raises `ProcessAccessError` for a bad pid."""
    if pid is not None and not psutil.pid_exists(pid):
        raise ProcessAccessError(f"no process with pid {pid}")
    if sys.platform.startswith("linux") and os.path.exists("/proc/self/stat"):
        return ProcStatProbe(pid)
    return PsutilProbe(pid)


def cgroup_memory_limit(
    cgroup_root: Path = Path("/sys/fs/cgroup"), proc_cgroup: Path = Path("/proc/self/cgroup")
) -> int | None:
    """The memory limit of this process's cgroup in bytes, or None when there is none.

    cgroup v2 (`memory.max`, "max" meaning none) first, then v1 (`memory.limit_in_bytes`).
    The nearest ancestor with a limit counts, since a parent's limit binds its children.
    """
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    limits: list[int] = []
    for line in lines:
        hier, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hier == "0" and controllers == "":
            base, name = cgroup_root, "memory.max"
        elif "memory" in controllers.split(","):
            base, name = cgroup_root / "memory", "memory.limit_in_bytes"
        else:
            continue
        rel = Path(path.lstrip("/"))
        for candidate in [rel, *rel.parents]:
            value = _read_limit(base / candidate / name)
            if value is not None:
                limits.append(value)
    return min(limits) if limits else None


def _read_limit(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max" or not text.isdigit():
        return None
    value = int(text)
    return None if value >= _CGROUP_V1_UNLIMITED else value


class Sampler:
    """Turns probe readings into `MemorySample`s, rate-limiting the costly probes."""

    def __init__(
        self,
        probe: ProcessProbe | None = None,
        *,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        full_info_interval: float | None = None,
        tracemalloc_enabled: bool = False,
        budget: int | None = None,
        fds_interval: float = 5.0,
    ) -> None:
        """`full_info_interval=None` leaves USS/PSS off; 30.0 is a sensible opt-in value.

        Open file descriptors are listed at most every `fds_interval` seconds: listing them
        costs as much as the rest of a reading, and the count changes slowly.
        """
        self.probe = probe if probe is not None else default_probe()
        self._clock = clock
        self._wall = wall
        self.full_info_interval = full_info_interval
        self.budget = budget
        self.fds_interval = fds_interval
        self._last_fds: tuple[float, int | None] | None = None
        self._last_cpu: tuple[float, float] | None = None
        self._last_full: tuple[float, int, int | None] | None = None
        self._tracemalloc = tracemalloc_enabled
        if tracemalloc_enabled and not tracemalloc.is_tracing():
            tracemalloc.start()

    def sample(self) -> MemorySample:
        now = self._clock()
        reading = self.probe.read()
        cpu_percent = 0.0
        if self._last_cpu is not None:
            then, cpu_then = self._last_cpu
            if now > then:
                cpu_percent = max(0.0, (reading.cpu_time - cpu_then) / (now - then) * 100.0)
        self._last_cpu = (now, reading.cpu_time)
        uss = pss = None
        if self.full_info_interval is not None:
            if self._last_full is None or now - self._last_full[0] >= self.full_info_interval:
                self._last_full = (now, *self.probe.full_info())
            _, uss, pss = self._last_full
        if self._last_fds is None or now - self._last_fds[0] >= self.fds_interval:
            self._last_fds = (now, self.probe.open_fds())
        traced_current = traced_peak = None
        if self._tracemalloc and tracemalloc.is_tracing():
            traced_current, traced_peak = tracemalloc.get_traced_memory()
        return MemorySample(
            timestamp=self._wall(),
            rss=reading.rss,
            vms=reading.vms,
            cpu_percent=cpu_percent,
            num_threads=reading.num_threads,
            open_fds=self._last_fds[1],
            uss=uss,
            pss=pss,
            budget=self.budget,
            traced_current=traced_current,
            traced_peak=traced_peak,
        )
