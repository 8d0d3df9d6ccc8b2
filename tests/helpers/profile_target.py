"""A host for profiling tests: the agent, a hot function, a decorated one; until stdin closes."""

from __future__ import annotations

import sys
import threading

import tui_perf.agent
from tui_perf import profile


def hot_loop(n: int) -> int:
    x = 0
    for i in range(n):
        x += i * i
    return x


@profile("target.handle")
def handle(i: int) -> bytearray:
    hot_loop(2_000)
    return bytearray(512)


def main() -> None:
    agent = tui_perf.agent.start(interval=0.05)
    print(f"ready {agent.address}", flush=True)
    done = threading.Event()

    def wait_for_stdin() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_for_stdin, daemon=True).start()
    keep: list[bytearray] = []
    i = 0
    while not done.is_set():
        keep.append(handle(i))
        if len(keep) > 5000:
            keep.clear()
        i += 1
    agent.stop()


if __name__ == "__main__":
    main()
