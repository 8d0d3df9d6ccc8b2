"""A host program whose memory tier a test moves: the agent with its Prometheus exporter,
and a block of memory it takes and gives back on command.

    python -m tests.helpers.tier_target PORT SOCKET

Starts `tui_perf.agent.start(prometheus_port=PORT)` over an engine whose tier thresholds
sit just above the RSS it starts with, prints "ready", then reads lines from stdin:
"grow" takes GROW_MIB of touched memory (tier HIGH), "free" gives it back (tier NORMAL);
each is answered "grown" / "freed". It stops when stdin closes.
"""

from __future__ import annotations

import sys

import psutil

import tui_perf.agent
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.memory import GuardConfig

MiB = 1024 * 1024
GROW_MIB = 160
# Above the RSS at start: HIGH begins 100 MiB up, CRITICAL well past what "grow" takes.
ELEVATED_MIB, HIGH_MIB, CRITICAL_MIB = 60, 100, 400


def main() -> None:
    port, socket_path = int(sys.argv[1]), sys.argv[2]
    base = psutil.Process().memory_info().rss / MiB
    config = EngineConfig(
        interval=0.2,
        budget_mib=base + 600,
        guard=GuardConfig(
            thresholds_mib=(base + ELEVATED_MIB, base + HIGH_MIB, base + CRITICAL_MIB),
            # the margin below a threshold RSS must fall to leave a tier: 2% of the budget
            # (about 13 MiB) is room enough for what the agent itself allocates meanwhile
            hysteresis=0.02,
        ),
    )
    agent = tui_perf.agent.start(
        engine=Engine(config), socket_path=socket_path, prometheus_port=port
    )
    print("ready", flush=True)
    held: bytes | None = None
    for line in sys.stdin:
        if line.strip() == "grow":
            held = b"\x01" * (GROW_MIB * MiB)  # written, so every page is resident
            print("grown", flush=True)
        elif line.strip() == "free":
            held = None  # one large block: freed straight back to the OS (munmap)
            print("freed", flush=True)
    del held
    agent.stop()


if __name__ == "__main__":
    main()
