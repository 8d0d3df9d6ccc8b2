"""A process holding a `MultiLevelCache` over Redis with coherence on, driven from stdin.

`python -m tests.helpers.coherence_peer URL [MAX_STALE]`: L1 has no TTL, so only coherence
can ever drop a copy. Each line is a command; each answer is one line of JSON:
`set K V`, `get K` (the value or null), `peek K` (is K in L1), `del K`, `stats`, `quit`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tui_perf.caches.memory_tier import MemoryTier
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.caches.redis_tier import RedisTier
from tui_perf.engine.registry import Registry


def main(url: str, max_stale: str | None) -> None:
    coherence: Any = True
    if max_stale is not None:
        from tui_perf.caches.coherence import Coherence

        coherence = Coherence(max_stale=float(max_stale))
    cache = MultiLevelCache(
        "peers",
        l1=MemoryTier("lru", 1024),
        l2=RedisTier(url, prefix="coh:", socket_timeout=0.5),
        coherence=coherence,
        registry=Registry(),
    )
    print(json.dumps("ready"), flush=True)
    for line in sys.stdin:
        cmd, *args = line.split()
        answer: Any = None
        if cmd == "set":
            cache.set(args[0], args[1])
        elif cmd == "get":
            answer = cache.get(args[0])
        elif cmd == "peek":
            answer = args[0] in cache
        elif cmd == "del":
            answer = cache.delete(args[0])
        elif cmd == "stats":
            answer = cache.coherence.counts()
        elif cmd == "quit":
            break
        print(json.dumps(answer), flush=True)
    cache.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
