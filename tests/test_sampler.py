"""The sampler: CPU from deltas, costly probes rate-limited, cgroup limits, real /proc reads."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers.scripted import FakeClock, MiB, ScriptedProbe
from tui_perf.engine.sampler import (
    ProcStatProbe,
    PsutilProbe,
    Sampler,
    cgroup_memory_limit,
    default_probe,
)
from tui_perf.model.errors import ProcessAccessError


def test_cpu_percent_is_cpu_time_over_wall_time_between_samples() -> None:
    clock, probe = FakeClock(), ScriptedProbe()
    sampler = Sampler(probe, clock=clock, wall=clock)
    assert sampler.sample().cpu_percent == 0.0  # nothing to compare with yet
    clock.advance(2.0)
    probe.cpu_time += 1.0
    assert sampler.sample().cpu_percent == pytest.approx(50.0)


def test_full_info_is_off_by_default_and_rate_limited_when_on() -> None:
    clock, probe = FakeClock(), ScriptedProbe()
    off = Sampler(probe, clock=clock, wall=clock)
    assert off.sample().uss is None and probe.full_calls == 0

    on = Sampler(probe, clock=clock, wall=clock, full_info_interval=30.0)
    first = on.sample()
    assert first.uss == probe.uss and probe.full_calls == 1
    clock.advance(29.0)
    assert on.sample().uss == probe.uss and probe.full_calls == 1  # the cached reading
    clock.advance(1.0)
    on.sample()
    assert probe.full_calls == 2


def test_budget_and_unknown_fds_are_reported_as_such() -> None:
    probe = ScriptedProbe()
    probe.fds = None
    sample = Sampler(probe, budget=512 * MiB).sample()
    assert sample.budget == 512 * MiB
    assert sample.open_fds is None


def test_proc_stat_probe_agrees_with_psutil_on_this_process() -> None:
    fast, portable = ProcStatProbe(), PsutilProbe()
    a, b = fast.read(), portable.read()
    assert abs(a.rss - b.rss) < 4 * MiB
    assert a.vms == pytest.approx(b.vms, rel=0.05)
    assert a.num_threads == b.num_threads == psutil.Process().num_threads()
    assert fast.open_fds() == psutil.Process().num_fds()


def test_a_missing_pid_is_a_clear_error() -> None:
    with pytest.raises(ProcessAccessError, match="no process with pid"):
        default_probe(2**22 + 12345)


def test_a_process_that_exits_is_reported_as_gone(tmp_path: Path) -> None:
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-c", "print('ready', flush=True); import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"  # past exec: a real address space to read
    probe = default_probe(child.pid)
    assert probe.read().rss > 0
    assert child.stdin is not None
    child.stdin.close()
    child.wait()
    child.stdout.close()
    with pytest.raises(ProcessAccessError, match="no process"):
        probe.read()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_limit_of_the_nearest_limited_ancestor(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    _write(proc, "0::/app/worker\n")
    _write(tmp_path / "fs/app/worker/memory.max", "max\n")
    _write(tmp_path / "fs/app/memory.max", str(256 * MiB))
    assert cgroup_memory_limit(tmp_path / "fs", proc) == 256 * MiB


def test_cgroup_v2_without_a_limit_is_none(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    _write(proc, "0::/\n")
    _write(tmp_path / "fs/memory.max", "max\n")
    assert cgroup_memory_limit(tmp_path / "fs", proc) is None


def test_cgroup_v1_limit_and_its_unlimited_sentinel(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    _write(proc, "4:memory:/box\n2:cpu:/\n")
    _write(tmp_path / "fs/memory/box/memory.limit_in_bytes", str(64 * MiB))
    assert cgroup_memory_limit(tmp_path / "fs", proc) == 64 * MiB
    _write(tmp_path / "fs/memory/box/memory.limit_in_bytes", str(9223372036854771712))
    assert cgroup_memory_limit(tmp_path / "fs", proc) is None


def test_no_cgroup_file_means_no_limit(tmp_path: Path) -> None:
    assert cgroup_memory_limit(tmp_path, tmp_path / "missing") is None


def test_the_real_sampler_reads_this_process() -> None:
    sample = Sampler().sample()
    assert sample.rss > 1 * MiB
    assert sample.num_threads >= 1
    assert sample.open_fds is not None and sample.open_fds >= 3
    assert os.getpid() == Sampler().probe.pid


def test_open_fds_are_listed_at_most_every_fds_interval() -> None:
    clock, probe = FakeClock(), ScriptedProbe()
    sampler = Sampler(probe, clock=clock, wall=clock, fds_interval=5.0)
    assert sampler.sample().open_fds == 9
    probe.fds = 12
    clock.advance(4.9)
    assert sampler.sample().open_fds == 9
    clock.advance(0.1)
    assert sampler.sample().open_fds == 12


def test_this_process_is_read_from_statm_with_threads_every_threads_interval() -> None:
    clock = FakeClock()
    probe = ProcStatProbe(threads_interval=5.0, clock=clock)
    first = probe.read()
    assert first.num_threads == psutil.Process().num_threads()
    assert abs(first.rss - psutil.Process().memory_info().rss) < 4 * MiB
    assert first.cpu_time == pytest.approx(time.process_time(), abs=0.05)
    started = threading.Event()
    stop = threading.Event()
    extra = threading.Thread(target=lambda: (started.set(), stop.wait(10)))
    extra.start()
    started.wait(10)
    try:
        clock.advance(1)
        assert probe.read().num_threads == first.num_threads  # not read again yet
        clock.advance(4)
        assert probe.read().num_threads == first.num_threads + 1
    finally:
        stop.set()
        extra.join(10)
    probe.close()
