"""tui-perf: a performance cockpit for Python processes.

`import tui_perf` stays light: it never imports textual, plotext or aiosqlite. Public names
are loaded on first use, so a production service pays only for what it touches.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# A library never prints on its host's stderr: without this, logging's last-resort handler
# would print our warnings whenever the host configured no logging at all.
logging.getLogger("tui_perf").addHandler(logging.NullHandler())

_EXPORTS: dict[str, str] = {
    "cached": "tui_perf.caches.decorator",
    "MultiLevelCache": "tui_perf.caches.multilevel",
    "MemoryTier": "tui_perf.caches.memory_tier",
    "SQLiteTier": "tui_perf.caches.sqlite_tier",
    "RedisTier": "tui_perf.caches.redis_tier",
    "Coherence": "tui_perf.caches.coherence",
    "JsonCodec": "tui_perf.caches.codecs",
    "PickleCodec": "tui_perf.caches.codecs",
    "ObjectPool": "tui_perf.pools.objects",
    "ConnectionPool": "tui_perf.pools.connections",
    "GCController": "tui_perf.engine.gc_control",
    "GCConfig": "tui_perf.engine.gc_control",
    "MemoryGuard": "tui_perf.engine.memory",
    "GuardConfig": "tui_perf.engine.memory",
    "Tier": "tui_perf.engine.memory",
    "benchmark": "tui_perf.bench",
    "compare_functions": "tui_perf.bench.ab",
    "profile": "tui_perf.profile",
    "Profiler": "tui_perf.profile.sampler",
    "Engine": "tui_perf.engine.core",
    "EngineConfig": "tui_perf.engine.core",
    "Sampler": "tui_perf.engine.sampler",
    "Registry": "tui_perf.engine.registry",
    "REGISTRY": "tui_perf.engine.registry",
    "HistoryStore": "tui_perf.store.history",
    "Retention": "tui_perf.store.history",
    "Snapshot": "tui_perf.model.snapshot",
    "MemorySample": "tui_perf.model.snapshot",
    "GCStats": "tui_perf.model.snapshot",
    "CacheStats": "tui_perf.model.snapshot",
    "TierStats": "tui_perf.model.snapshot",
    "PoolStats": "tui_perf.model.snapshot",
    "Event": "tui_perf.model.snapshot",
    "CleanupReport": "tui_perf.model.snapshot",
    "RungReport": "tui_perf.model.snapshot",
    "BenchResult": "tui_perf.model.snapshot",
    "TuiPerfError": "tui_perf.model.errors",
}

# Derived, not a second copy: the lazy table above is the one list of public names.
__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from tui_perf.bench import benchmark
    from tui_perf.bench.ab import compare_functions
    from tui_perf.caches.codecs import JsonCodec, PickleCodec
    from tui_perf.caches.coherence import Coherence
    from tui_perf.caches.decorator import cached
    from tui_perf.caches.memory_tier import MemoryTier
    from tui_perf.caches.multilevel import MultiLevelCache
    from tui_perf.caches.redis_tier import RedisTier
    from tui_perf.caches.sqlite_tier import SQLiteTier
    from tui_perf.engine.core import Engine, EngineConfig
    from tui_perf.engine.gc_control import GCConfig, GCController
    from tui_perf.engine.memory import GuardConfig, MemoryGuard, Tier
    from tui_perf.engine.registry import REGISTRY, Registry
    from tui_perf.engine.sampler import Sampler
    from tui_perf.model.errors import TuiPerfError
    from tui_perf.model.snapshot import (
        BenchResult,
        CacheStats,
        CleanupReport,
        Event,
        GCStats,
        MemorySample,
        PoolStats,
        RungReport,
        Snapshot,
        TierStats,
    )
    from tui_perf.pools.connections import ConnectionPool
    from tui_perf.pools.objects import ObjectPool
    from tui_perf.profile.sampler import Profiler
    from tui_perf.profile.timings import profile
    from tui_perf.store.history import HistoryStore, Retention


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tui_perf' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
