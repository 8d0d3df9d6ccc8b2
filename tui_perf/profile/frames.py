"""Reading other threads from inside the process: their Python stacks, their CPU clocks, and
whether they are blocked in a call that waits.

Everything here runs on the sampler thread, a hundred times a second, so it caches what it
can (a code object's key, a call site's verdict) and never raises.
"""

from __future__ import annotations

import dis
import os
import sys
import threading
import time
from collections.abc import Sequence
from types import CodeType, FrameType
from typing import NamedTuple


class FrameKey(NamedTuple):
    """What identifies a function in a profile: its name, its file, its first line."""

    function: str
    file: str
    line: int

    def label(self) -> str:
        """`func (file:line)`, as py-spy and the folded format name a frame."""
        return f"{self.function} ({self.file}:{self.line})"


#: names which, called on a line, mean the thread is waiting there: sleep, select/poll,
#: lock and condition waits (queue.get ends in one), socket receives, joins, child waits.
#: The asyncio selector waits in `selectors.*.select`, on a line that calls `poll`/`select`.
WAITING_CALLS = frozenset(
    {
        "sleep",
        "select",
        "poll",
        "epoll",
        "acquire",
        "wait",
        "wait_for",
        "_wait_for_tstate_lock",
        "join",
        "recv",
        "recv_into",
        "recvfrom",
        "recvfrom_into",
        "recvmsg",
        "accept",
        "waitpid",
        "communicate",
        "input",
        "sigwait",
    }
)
_NAME_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD", "LOAD_GLOBAL", "LOAD_NAME", "IMPORT_FROM"})


class KeyCache:
    """Code object -> `FrameKey`, keyed by id with the code held so the id stays its own."""

    def __init__(self, limit: int = 20_000) -> None:
        self._keys: dict[int, tuple[CodeType, FrameKey]] = {}
        self._limit = limit

    def key(self, code: CodeType) -> FrameKey:
        entry = self._keys.get(id(code))
        if entry is not None:
            return entry[1]
        if len(self._keys) >= self._limit:  # bounded: forgetting costs only a rebuild
            self._keys.clear()
        key = FrameKey(code.co_qualname, code.co_filename, code.co_firstlineno)
        self._keys[id(code)] = (code, key)
        return key

    def stack(self, frame: FrameType | None) -> list[FrameKey]:
        """The frames of one thread, outermost first."""
        keys: list[FrameKey] = []
        get = self._keys.get
        while frame is not None:
            code = frame.f_code
            entry = get(id(code))
            keys.append(entry[1] if entry is not None else self.key(code))
            frame = frame.f_back
        keys.reverse()
        return keys


class WaitDetector:
    """Whether a frame is blocked in a known waiting call, read from its bytecode.

    A thread blocked in `time.sleep` or `lock.acquire` shows only the Python frame that
    called it; that frame's last instruction is the call, and the names its line loads
    say what is called. The verdict is cached per call site (bounded).
    """

    def __init__(self, names: frozenset[str] = WAITING_CALLS, limit: int = 4096) -> None:
        self.names = names
        self._verdicts: dict[tuple[int, int], tuple[CodeType, bool]] = {}
        self._limit = limit

    def waiting(self, frame: FrameType) -> bool:
        code = frame.f_code
        site = (id(code), frame.f_lasti)
        entry = self._verdicts.get(site)
        if entry is not None:
            return entry[1]
        if len(self._verdicts) >= self._limit:
            self._verdicts.clear()
        try:
            verdict = bool(call_site_names(code, frame.f_lasti) & self.names)
        except Exception:  # an odd code object: not waiting, as far as we can tell
            verdict = False
        self._verdicts[site] = (code, verdict)
        return verdict


def call_site_names(code: CodeType, lasti: int) -> frozenset[str]:
    """The attribute and global names loaded on the line of the instruction at `lasti`."""
    instructions = list(dis.get_instructions(code))
    at = None
    for i, ins in enumerate(instructions):
        if ins.offset > lasti:
            break
        at = i
    if at is None:
        return frozenset()
    line = _lineno(instructions[at])
    names: set[str] = set()
    for ins in reversed(instructions[max(0, at - 64) : at + 1]):
        here = _lineno(ins)
        if here is not None and line is not None and here != line:
            break
        if ins.opname in _NAME_OPS and isinstance(ins.argval, str):
            names.add(ins.argval)
    return frozenset(names)


def _lineno(ins: dis.Instruction) -> int | None:
    return ins.positions.lineno if ins.positions is not None else None


class ThreadClocks:
    """Each thread's CPU time, read from the outside through Linux's per-thread CPU clocks.

    The clock id of thread `tid` is `(~tid << 3) | 6` (CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD,
    what glibc's pthread_getcpuclockid computes). Built from the native id, a thread that
    has exited gives an error, never a crash: `pthread_getcpuclockid` on a dead thread's
    handle would read freed memory. Elsewhere `available` is False and samples weigh wall
    time.
    """

    def __init__(self) -> None:
        self.available = _works()

    def read(self, native_id: int | None) -> float | None:
        if not self.available or native_id is None:
            return None
        try:
            return time.clock_gettime(_clock_id(native_id))
        except (OSError, OverflowError):
            return None


def _clock_id(native_id: int) -> int:
    return ((~native_id) << 3) | 6


def _works() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        mine = time.clock_gettime(_clock_id(threading.get_native_id()))
    except (OSError, OverflowError):
        return False
    return abs(mine - time.thread_time()) < 0.05


# -- our own frames, hidden from the user's profile ------------------------------------------

#: the folder of the tui_perf package: frames from files under it are ours
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: the threads tui-perf starts are all named so (the engine, the agent, the profiler's)
OWN_THREAD_PREFIX = "tui-perf"


def is_launcher(key: FrameKey, package_dir: str = PACKAGE_DIR) -> bool:
    """A frame of what starts the user's program: runpy, or any frame of ours."""
    file = key.file
    return (
        file == "<frozen runpy>"
        or file.endswith(("/runpy.py", "\\runpy.py"))
        or _is_ours(file, package_dir)
    )


def _is_ours(file: str, package_dir: str) -> bool:
    return file.startswith(package_dir + os.sep)


def hide_internals(
    thread: str, stack: Sequence[FrameKey], package_dir: str = PACKAGE_DIR
) -> list[FrameKey] | None:
    """The user's part of one sample, or None when the whole sample is tui-perf's own.

    `stack` is outermost first. A thread of ours (named `tui-perf...`, or whose frames are
    all under the package) is dropped whole, as py-spy leaves out its own threads. Above
    the user's program sit the frames that launched it (`tui-perf profile`/`run`: our CLI
    and bootstrap, then runpy): everything up to the last launcher frame at the outer end
    is cut, so the program's `<module>` is the root, as `py-spy record -- python prog.py`
    shows it. Frames of ours deeper in (a `@cached` call the program makes) stay: that is
    the library's cost, spent where the program called it. A pure function, so the
    in-process and the outside samplers hide the same frames.
    """
    if thread.startswith(OWN_THREAD_PREFIX):
        return None
    if stack and all(_is_ours(k.file, package_dir) for k in stack):
        return None
    cut = 0
    for i, key in enumerate(stack):
        if is_launcher(key, package_dir):
            cut = i + 1
        else:
            break
    if cut == len(stack) and cut:
        return None  # nothing but the launcher: the program has not started yet
    return list(stack[cut:])


def frame_codes(frame: FrameType | None) -> tuple[CodeType, ...]:
    """The code objects of a thread's frames, innermost first."""
    codes = []
    while frame is not None:
        codes.append(frame.f_code)
        frame = frame.f_back
    return tuple(codes)


def running_tasks() -> dict[int, FrameKey]:
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
