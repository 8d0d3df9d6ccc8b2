"""What `profile = "auto"` reads: the machine's and the process's measured shape, and the
pure choice of a profile from it, with the reason in words.

The probe is injectable (`SystemProfile` is plain data), so the choice is tested under any
cgroup limit without one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tui_perf.model.format import fmt_bytes

GIB = 1 << 30


@dataclass(frozen=True, slots=True)
class SystemProfile:
    memory_limit: int  # bytes: the cgroup's limit, else physical memory
    limited_by: str  # "cgroup" or "physical memory"
    cores: float  # usable cores: the cgroup's CPU quota, else the affinity mask
    #: the process's CPU use in cores, as a median over a window; None when not measured
    cpu_cores_used: float | None = None


def probe_system(cpu_percents: Sequence[float] = ()) -> SystemProfile:
    """This machine and process. `cpu_percents` are the engine's samples (100 = a core)."""
    import psutil

    from tui_perf.engine.sampler import cgroup_memory_limit

    limit = cgroup_memory_limit()
    by = "cgroup"
    if limit is None:
        limit, by = psutil.virtual_memory().total, "physical memory"
    cores = cgroup_cpu_quota()
    if cores is None:
        try:
            cores = float(len(os.sched_getaffinity(0)))
        except (AttributeError, OSError):
            cores = float(os.cpu_count() or 1)
    used = sorted(cpu_percents)[len(cpu_percents) // 2] / 100 if cpu_percents else None
    return SystemProfile(limit, by, cores, used)


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """cgroup v2 `cpu.max` ("quota period", or "max" for none) as cores; None without one."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(0.01, int(quota) / int(period))
    except (ValueError, ZeroDivisionError):
        return None


#: below this much memory (limit or physical) the memory-constrained profile is picked
SMALL_MEMORY = GIB
#: at or below this many usable cores, cpu-constrained
FEW_CORES = 1.0
#: a process using this share of its usable cores or more is CPU-bound; at or below
#: IO_BOUND it spends most of its time waiting
CPU_BOUND, IO_BOUND = 0.6, 0.15


def choose(system: SystemProfile) -> tuple[str, str]:
    """(profile name, why), first rule that holds wins: memory, then cores, then the
    process's CPU share."""
    if system.memory_limit < SMALL_MEMORY:
        return "memory-constrained", (
            f"{system.limited_by} limit {fmt_bytes(system.memory_limit)} is under "
            f"{fmt_bytes(SMALL_MEMORY)}"
        )
    if system.cores <= FEW_CORES:
        return "cpu-constrained", f"{system.cores:g} usable core(s)"
    if system.cpu_cores_used is None:
        return "balanced", "no CPU measure of the process yet"
    share = system.cpu_cores_used / system.cores
    used = f"the process uses {system.cpu_cores_used:.2f} of {system.cores:g} cores"
    if share >= CPU_BOUND:
        return "throughput", f"CPU-bound: {used}"
    if share <= IO_BOUND:
        return "latency", f"mostly waiting (I/O-bound): {used}"
    return "balanced", f"between CPU- and I/O-bound: {used}"
