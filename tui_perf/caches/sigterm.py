"""SIGTERM ends a process the way Ctrl-C does, so queued write-behind writes are kept.

Python's default SIGTERM action ends the process at once: no `finally`, no `atexit`, no
finalizers, so a write-behind queue is lost, while `kill`, `docker stop` and `systemctl stop`
all send SIGTERM. When the first write-behind queue starts (on the main thread), this module
takes SIGTERM:

- the program has a Python handler of its own: ours writes every live queue, then calls it;
- the program ignores SIGTERM: we leave it alone;
- the default: ours raises `SystemExit` in the main thread, so it unwinds (its `finally`
  blocks run, its locks are released) and exits normally, which writes the queues through
  their finalizers; our exit hook then ends the process by SIGTERM after all, so its status
  is the default one (killed by signal 15, `-15` to `subprocess`), as a supervisor expects.
  Exit hooks registered before ours (ours is registered when the first queue starts) do not
  run on that path, as they would not have under the default action either.

A program opts out with the environment variable `TUI_PERF_SIGTERM=0`, or by calling
`release()`, which puts back the handler it found.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import weakref
from types import FrameType
from typing import Any, Protocol


class _Closable(Protocol):
    def close(self, timeout: float = ...) -> None: ...


_queues: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False
_previous: Any = None
_terminated = False


def watch(queue: _Closable) -> None:
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
    atexit.register(_end_by_sigterm)


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
        atexit.unregister(_end_by_sigterm)


def flush_all(timeout: float = 5.0) -> None:
    """Write every live queue (each waits at most `timeout` for a batch in flight)."""
    for queue in list(_queues):
        with contextlib.suppress(Exception):  # never raise into the host's shutdown
            queue.close(timeout)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _terminated
    if callable(_previous) and _previous is not signal.default_int_handler:
        flush_all()
        _previous(signum, frame)
        return
    _terminated = True
    raise SystemExit(128 + signum)


def _end_by_sigterm() -> None:
    """At exit after our SIGTERM: the queues are written; end with SIGTERM's own status."""
    if not _terminated:
        return
    flush_all()
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
