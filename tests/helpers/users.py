"""Running a piece of a test as another user, to meet real permission errors."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable

NOBODY = 65534


def in_child_as_nobody(fn: Callable[[], int]) -> tuple[int, str]:
    """Fork, drop to uid/gid 65534, run `fn`; returns (its exit code, what it wrote to stderr).

    Forking (rather than exec'ing a new interpreter) matters here: the interpreter may live
    where that user cannot read it.
    """
    with tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                os.dup2(err.fileno(), 2)
                sys.stderr = os.fdopen(2, "w", closefd=False)
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                code = fn()
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), err.read().decode()
