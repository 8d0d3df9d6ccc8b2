"""A host program for agent tests: starts the agent, says where, then works until stdin closes.

Its workload (a cached function, allocations) keeps going; a counter of rounds is readable
through the cache's hit counts. Uncaught exceptions in any thread would print
"Exception in thread" on stderr, which the tests look for.
"""

from __future__ import annotations

import sys
import threading

import tui_perf.agent
from tui_perf import cached


@cached(maxsize=16, name="target.square")
def square(x: int) -> int:
    return x * x


def main() -> None:
    agent = tui_perf.agent.start(interval=float(sys.argv[1]) if len(sys.argv) > 1 else 0.05)
    print(f"ready {agent.address}", flush=True)
    done = threading.Event()

    def wait_for_stdin() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_for_stdin, daemon=True).start()
    keep: list[bytearray] = []
    i = 0
    while not done.wait(0.002):
        square(i % 8)
        keep.append(bytearray(1024))
        if len(keep) > 2000:
            keep.clear()
        i += 1
    agent.stop()


if __name__ == "__main__":
    main()
