"""A second process on the same L2, for the cache model (`tests/helpers/cache_model.py`).

    python -m tests.helpers.cache_peer

A long-lived child driven over its stdin and stdout, one line each way: a request is
base64 of a pickled `(op, arg)`, an answer is "ok " or "err " then base64 of a pickled
result. Ops: `("open", config)` closes the cache it holds and opens a new one (one per
example, so a run pays for one interpreter, not one per example); `("get", key)` is the
cache's answer, `MISS` when it has none; `("advance", seconds)` moves the clock of its
L1's ttl (injected: the parent decides when a copy has expired); `("quit", None)` ends it.
Pickle is fine here: both ends are the test's own.

It only reads. Its writes would make the other process's model depend on this one's; the
staleness the model checks is the reader's, and one reader shows it.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

MISS = "<miss>"
ROOT = Path(__file__).resolve().parent.parent.parent


def encode(obj: object) -> str:
    return base64.b64encode(pickle.dumps(obj)).decode()


def decode(line: str) -> Any:
    return pickle.loads(base64.b64decode(line))  # our own parent's lines


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def open_cache(config: dict[str, Any], clock: Clock) -> Any:
    from tui_perf.caches.codecs import JsonCodec, PickleCodec
    from tui_perf.caches.memory_tier import MemoryTier
    from tui_perf.caches.multilevel import MultiLevelCache
    from tui_perf.engine.registry import Registry

    l2: Any
    if config["tier"] == "sqlite":
        from tui_perf.caches.sqlite_tier import SQLiteTier

        l2 = SQLiteTier(config["path"], busy_timeout_s=config["busy_timeout_s"])
    else:
        from tui_perf.caches.redis_tier import RedisTier

        l2 = RedisTier(config["url"], socket_timeout=0.5)
    codec = PickleCodec(config["hmac_key"]) if config["codec"] == "pickle" else JsonCodec()
    return MultiLevelCache(
        config["name"],
        l1=MemoryTier("lru", maxsize=64, ttl=config["l1_ttl"], timer=clock),
        l2=l2,
        codec=codec,
        coherence=config["coherence"],
        registry=Registry(),
    )


class Peer:
    """The parent's end of `cache_peer.py`."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.cache_peer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )

    def call(self, op: str, arg: object = None) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(encode((op, arg)) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the peer process ended (exit {self.proc.wait(5)})")
        status, _, payload = line.strip().partition(" ")
        result = decode(payload)
        if status != "ok":
            raise RuntimeError(f"the peer failed: {result}")
        return result

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            self.call("quit")
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def main() -> None:
    cache: Any = None
    clock = Clock()
    for line in sys.stdin:
        op, arg = decode(line.strip())
        try:
            if op == "open":
                if cache is not None:
                    cache.close()
                cache = open_cache(arg, clock)
                result: object = None
            elif op == "advance":
                clock.now += float(arg)
                result = clock.now
            elif op == "get":
                result = cache.get(arg, MISS)
            elif op == "quit":
                break
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as exc:
            print("err " + encode(f"{type(exc).__name__}: {exc}"), flush=True)
        else:
            print("ok " + encode(result), flush=True)
    if cache is not None:
        cache.close()


if __name__ == "__main__":
    main()
