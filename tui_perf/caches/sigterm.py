"""SIGTERM writes the write-behind queues before the process ends.

Python's default SIGTERM action ends the process at once: no `finally`, no `atexit`, no
finalizers, so a write-behind queue is lost, while `kill`, `docker stop` and `systemctl stop`
all send SIGTERM. When the first write-behind queue starts (on the main thread), this module
takes SIGTERM:

- the default action: our handler ignores further SIGTERMs, writes every live queue (each
  waits at most 5 s for the tier), then ends the process by SIGTERM with the default action,
  so the status is the default one (killed by signal 15) and nothing else changes: the
  program's code is not unwound, its threads do not keep it alive, no exception can be
  swallowed. Only SIGKILL is then faster;
- the program has a handler of its own (including `signal.default_int_handler`): ours writes
  every live queue, leaves them open (the program may go on writing), then calls it;
- the program ignores SIGTERM: we leave it alone.

The handler runs on the main thread between two of its bytecodes, possibly inside a queue's
locks: they are reentrant, and the batch that thread had taken is written with the queue
(`WriteQueue.write_now`). An agent registers itself the same way (`agent/server.py`): its
`write_now` stops it, so its socket file goes. A program opts out with `TUI_PERF_SIGTERM=0`,
or by calling `release()`, which puts back the handler it found. Queues made only on other
threads before any on the main thread do not install it (`signal.signal` works only on the
main thread).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import weakref
from types import FrameType
from typing import Any, Protocol


class _Writable(Protocol):
    def write_now(self, timeout: float) -> None: ...


#: how long one SIGTERM may spend writing all queues, in seconds
BUDGET_S = 10.0

_queues: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False
_previous: Any = None


def watch(queue: _Writable) -> None:
    """Keep `queue` to be written on SIGTERM; take SIGTERM the first time (main thread only)."""
    _queues.add(queue)
    with _lock:
        if _installed or os.environ.get("TUI_PERF_SIGTERM", "1") == "0":
            return
        _install()


def _install() -> None:
    global _installed, _previous
    if threading.current_thread() is not threading.main_thread():
        return  # signal.signal works only there; a later queue made on it installs
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current is signal.SIG_IGN or current is None:  # ignored, or set outside Python
            return
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # no signals here (an embedded interpreter): keep quiet
        return
    _previous = current
    _installed = True


def release() -> None:
    """Put back the SIGTERM handler we found; queues are then written only on normal exit."""
    global _installed
    with _lock:
        if not _installed:
            return
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signal.SIGTERM) is _on_sigterm:
                signal.signal(signal.SIGTERM, _previous)
        _installed = False


def write_all(budget_s: float = BUDGET_S) -> None:
    """Write every live queue, within `budget_s` in all."""
    deadline = time.monotonic() + budget_s
    for queue in list(_queues):
        left = deadline - time.monotonic()
        if left <= 0:
            return
        with contextlib.suppress(Exception):  # never raise into the host's shutdown
            queue.write_now(min(5.0, left))


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if callable(_previous):
        write_all()
        _previous(signum, frame)
        return
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signum, signal.SIG_IGN)  # a second SIGTERM must not cut the write
    write_all()
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
