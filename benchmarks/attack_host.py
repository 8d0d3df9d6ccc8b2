"""The host program under attack: a pure-Python work loop with the agent (TCP and /metrics).

python -m benchmarks.attack_host METRICS_PORT
  prints "ready" (the agent not started yet: the harness counts threads and fds), then reads
  commands on stdin: "start" (the agent: TCP on loopback with a token, /metrics on the port;
  prints {"tcp": [host, port]}), "work SECONDS" (prints {"ops_per_s": ..., and as
  "agent_cpu_share" the CPU time of the threads but main over the wall time}), or end of input.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time


def work(seconds: float) -> float:
    ops = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        sum(i * i for i in range(200))
        ops += 1
    return ops / (time.perf_counter() - started)


def others_cpu() -> float:
    """CPU seconds of every thread but the main one (/proc's schedstat, in ns)."""
    main = threading.main_thread().native_id
    total = 0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) == main:
            continue
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:  # ended meanwhile
            continue
    return total / 1e9


def main() -> None:
    metrics_port = int(sys.argv[1])
    import tui_perf.agent  # imported before the count: its modules are not the server's cost

    print("ready", flush=True)
    for line in sys.stdin:
        verb, _, arg = line.strip().partition(" ")
        if verb == "start":
            agent = tui_perf.agent.start(
                tcp=("127.0.0.1", 0), token="bench-token", prometheus_port=metrics_port
            )
            print(json.dumps({"tcp": agent.tcp_address}), flush=True)
        elif verb == "work":
            cpu0 = others_cpu()
            ops = work(float(arg))
            agent_share = (others_cpu() - cpu0) / float(arg)
            print(json.dumps({"ops_per_s": ops, "agent_cpu_share": agent_share}), flush=True)


if __name__ == "__main__":
    main()
