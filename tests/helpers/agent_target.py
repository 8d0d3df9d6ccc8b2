"""A host program for agent tests: starts the agent, says where, then works until stdin closes.

Its workload (a cached function, allocations) keeps going; a counter of rounds is readable
through the cache's hit counts. Uncaught exceptions in any thread would print
"Exception in thread" on stderr, which the tests look for.
"""

from __future__ import annotations

import os
import sys
import threading

import tui_perf.agent
from tui_perf import cached


@cached(maxsize=16, name="target.square")
def square(x: int) -> int:
    return x * x


def main() -> None:
    interval = float(sys.argv[1]) if len(sys.argv) > 1 else 0.05
    token = os.environ.get("TARGET_TCP_TOKEN")  # TCP on loopback with this token, if set
    if token:
        agent = tui_perf.agent.start(interval=interval, tcp=("127.0.0.1", 0), token=token)
    else:
        agent = tui_perf.agent.start(interval=interval)
    print(f"ready {agent.address}", flush=True)
    done = threading.Event()

    def wait_for_stdin() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_for_stdin, daemon=True).start()
    keep: list[bytearray] = []
    i = 0
    progress = os.environ.get("TARGET_PROGRESS_FILE")  # the workload's rounds, for tests
    while not done.wait(0.002):
        if progress and i % 50 == 0:
            with open(progress, "w") as f:
                f.write(str(i))
        square(i % 8)
        keep.append(bytearray(1024))
        if len(keep) > 2000:
            keep.clear()
        i += 1
    agent.stop()


if __name__ == "__main__":
    main()
