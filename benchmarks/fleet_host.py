"""An idle host with the agent at 1 Hz, for the top benchmark; exits when stdin closes.

python -m benchmarks.fleet_host
"""

from __future__ import annotations

import sys

import tui_perf.agent
from tui_perf import cached


@cached(maxsize=64, name="host.square")
def square(x: int) -> int:
    return x * x


def main() -> None:
    for i in range(200):  # a cache with something in it, as a real host has
        square(i % 50)
    agent = tui_perf.agent.start(interval=1.0)
    print(f"ready {agent.address}", flush=True)
    sys.stdin.read()
    agent.stop()


if __name__ == "__main__":
    main()
