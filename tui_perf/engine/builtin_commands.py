"""The engine's own commands: cleanup, garbage collection, GC strategy, cache flush, census.

Registered into `COMMANDS` when the engine is imported; capabilities add theirs beside them.
Each `_..._reads` function above a command is how its reply reads in a toast and in Events.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tui_perf.engine.commands import COMMANDS, Arg
from tui_perf.engine.gc_control import STRATEGIES
from tui_perf.model.errors import ConfigError
from tui_perf.model.format import fmt_bytes, fmt_ms, fmt_released
from tui_perf.model.snapshot import to_dict

if TYPE_CHECKING:
    from tui_perf.engine.gc_control import GCController
    from tui_perf.engine.target import CommandTarget


def _cleanup_reads(result: Mapping[str, Any]) -> str:
    rungs = result.get("rungs", [])
    best = max(rungs, key=lambda r: r["rss_before"] - r["rss_after"], default=None)
    released = result["rss_before"] - result["rss_after"]
    text = (
        f"RSS {fmt_bytes(result['rss_before'])} → {fmt_bytes(result['rss_after'])} "
        f"(released: {fmt_released(released)}) in {fmt_ms(result['duration_s'] * 1000)}"
    )
    if best is not None and best["rss_before"] - best["rss_after"] > 0:
        text += f"; most by {best['name']}"
    held = result.get("held_by") or []
    if released <= 0 and held:
        top = ", ".join(f"{name} x{count:,}" for name, count in held)
        text += f"; the memory is held by live objects: {top}"
    return text


@COMMANDS.register("emergency_cleanup", "Emergency cleanup", describe=_cleanup_reads)
def emergency_cleanup(engine: CommandTarget) -> dict[str, Any]:
    return to_dict(engine.guard.emergency_cleanup())


def _collect_reads(result: Mapping[str, Any]) -> str:
    return f"{result['collected']} unreachable objects collected in {fmt_ms(result['duration_ms'])}"


@COMMANDS.register(
    "gc_collect",
    "Full collection",
    Arg("generation", int, 2, low=0, high=2),
    describe=_collect_reads,
)
def gc_collect(engine: CommandTarget, generation: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    collected = gc.collect(generation)
    ms = (time.perf_counter() - t0) * 1000
    engine.emit("gc", f"collection of generation {generation}: {collected} objects in {ms:.1f} ms")
    return {"collected": collected, "duration_ms": ms}


def _manual(engine: CommandTarget) -> tuple[GCController, bool]:
    """A strategy chosen by hand wins: adaptive mode would undo it at the next tick.
    Returns the controller and whether adaptive mode was on (and is now off)."""
    controller = engine.gc_controller
    if controller is None:
        raise ConfigError("this engine has no GC controller")
    was = controller.adaptive
    if was:
        controller.set_adaptive(False)
    return controller, was


def _strategy_reads(result: Mapping[str, Any]) -> str:
    off = "; adaptive GC is now off (a)" if result.get("adaptive_turned_off") else ""
    return f"set to {result['strategy']}{off}"


@COMMANDS.register(
    "set_gc_strategy",
    "GC strategy",
    Arg("name", str, choices=tuple(STRATEGIES)),
    describe=_strategy_reads,
)
def set_gc_strategy(engine: CommandTarget, name: str) -> dict[str, Any]:
    controller, was = _manual(engine)
    controller.set_strategy(name, reason="by hand")
    return {"strategy": controller.strategy, "adaptive": False, "adaptive_turned_off": was}


@COMMANDS.register("next_gc_strategy", "GC strategy", describe=_strategy_reads)
def next_gc_strategy(engine: CommandTarget) -> dict[str, Any]:
    controller, was = _manual(engine)
    return {"strategy": controller.next_strategy(), "adaptive": False, "adaptive_turned_off": was}


def _adaptive_reads(result: Mapping[str, Any]) -> str:
    return f"adaptive GC {'on' if result['adaptive'] else 'off'} ({result['strategy']})"


@COMMANDS.register("set_adaptive", "Adaptive GC", Arg("on", bool), describe=_adaptive_reads)
def set_adaptive(engine: CommandTarget, on: bool) -> dict[str, Any]:
    controller = engine.gc_controller
    if controller is None:
        raise ConfigError("this engine has no GC controller")
    controller.set_adaptive(on)
    if on:
        controller.on_tier(engine.guard.tier.name)
    return {"adaptive": on, "strategy": controller.strategy}


def _flush_reads(result: Mapping[str, Any]) -> str:
    return f"{result['dropped']} entries dropped from {result['caches']} caches"


@COMMANDS.register(
    "flush_cache", "Flush caches", Arg("name", str, None, nullable=True), describe=_flush_reads
)
def flush_cache(engine: CommandTarget, name: str | None) -> dict[str, Any]:
    caches = [c for c in engine.registry.caches() if name is None or c.name == name]
    if name is not None and not caches:
        raise ConfigError(f"no cache named {name!r}")
    dropped = sum(c.flush_memory() for c in caches if name is not None or not c.pinned)
    engine.emit("cache", f"flushed {dropped} entries from {len(caches)} caches")
    return {"dropped": dropped, "caches": len(caches)}


def _census_reads(result: Mapping[str, Any]) -> str:
    census = result.get("census", [])
    top = ", ".join(f"{t} x{n}" for t, n in census[:3])
    return f"{sum(n for _, n in census)} objects in cycles" + (f": {top}" if top else "")


@COMMANDS.register(
    "census", "GC census", Arg("limit", int, 15, low=1, high=1000), describe=_census_reads
)
def census(engine: CommandTarget, limit: int) -> dict[str, Any]:
    controller = engine.gc_controller
    if controller is None:
        raise ConfigError("this engine has no GC controller")
    return {"census": [list(x) for x in controller.census(limit)]}


# -- the actions advice names (taken by hand from the Advice pane, or by the tuner) --------


def _cache(engine: CommandTarget, name: str) -> Any:
    for cache in engine.registry.caches():
        if cache.name == name:
            return cache
    raise ConfigError(f"no cache named {name!r}")


def _memory_tier(engine: CommandTarget, name: str) -> Any:
    tier = getattr(_cache(engine, name), "l1", None)
    if tier is None or not hasattr(tier, "resize"):
        raise ConfigError(f"cache {name!r} has no memory tier to change")
    return tier


def _cache_size_reads(result: Mapping[str, Any]) -> str:
    evicted = f"; {result['evicted']:,} evicted" if result.get("evicted") else ""
    return (
        f"{result['name']}: maxsize {result['before']:,} → {result['maxsize']:,}{evicted}; "
        "Advice judges the change over its next window"
    )


@COMMANDS.register(
    "set_cache_size",
    "Cache size",
    Arg("name", str),
    Arg("maxsize", int, low=1, high=1 << 31),
    describe=_cache_size_reads,
)
def set_cache_size(engine: CommandTarget, name: str, maxsize: int) -> dict[str, Any]:
    tier = _memory_tier(engine, name)
    before = int(tier.cache.maxsize)
    evicted = tier.resize(maxsize)
    engine.emit("cache", f"cache {name}: maxsize {before:,} -> {maxsize:,}")
    return {"name": name, "before": before, "maxsize": maxsize, "evicted": evicted}


def _cache_ttl_reads(result: Mapping[str, Any]) -> str:
    return f"{result['name']}: ttl {result['before']:g} s → {result['ttl']:g} s"


@COMMANDS.register(
    "set_cache_ttl",
    "Cache TTL",
    Arg("name", str),
    Arg("ttl", float, low=0.001, high=1e9),
    describe=_cache_ttl_reads,
)
def set_cache_ttl(engine: CommandTarget, name: str, ttl: float) -> dict[str, Any]:
    tier = _memory_tier(engine, name)
    before = tier.default_ttl
    tier.set_ttl(ttl)
    engine.emit("cache", f"cache {name}: ttl {before:g} s -> {ttl:g} s")
    return {"name": name, "before": before, "ttl": ttl}


def _pool(engine: CommandTarget, name: str) -> Any:
    for pool in engine.registry.pools():
        if pool.name == name:
            if not hasattr(pool, "resize"):
                raise ConfigError(f"pool {name!r} cannot be resized at run time")
            return pool
    raise ConfigError(f"no pool named {name!r}")


def _pool_size_reads(result: Mapping[str, Any]) -> str:
    return f"{result['name']}: max_size {result['before']} → {result['max_size']}"


@COMMANDS.register(
    "resize_pool",
    "Pool size",
    Arg("name", str),
    Arg("max_size", int, low=1, high=1 << 20),
    describe=_pool_size_reads,
)
def resize_pool(engine: CommandTarget, name: str, max_size: int) -> dict[str, Any]:
    pool = _pool(engine, name)
    before = pool.max_size
    pool.resize(max_size=max_size)
    engine.emit("pool", f"pool {name}: max_size {before} -> {max_size}")
    return {"name": name, "before": before, "max_size": max_size}


def _pool_idle_reads(result: Mapping[str, Any]) -> str:
    return (
        f"{result['name']}: max_idle {result['before']} → {result['max_idle']} "
        f"({result['dropped']} idle dropped)"
    )


@COMMANDS.register(
    "set_pool_idle",
    "Pool idle limit",
    Arg("name", str),
    Arg("max_idle", int, low=0, high=1 << 20),
    describe=_pool_idle_reads,
)
def set_pool_idle(engine: CommandTarget, name: str, max_idle: int) -> dict[str, Any]:
    pool = _pool(engine, name)
    before = pool.max_idle
    dropped = pool.resize(max_idle=max_idle)
    engine.emit("pool", f"pool {name}: max_idle {before} -> {max_idle} ({dropped} dropped)")
    return {"name": name, "before": before, "max_idle": max_idle, "dropped": dropped}


def _freeze_reads(result: Mapping[str, Any]) -> str:
    return f"{result['frozen']:,} objects frozen: full collections skip them"


@COMMANDS.register("gc_freeze", "GC freeze", describe=_freeze_reads)
def gc_freeze(engine: CommandTarget) -> dict[str, Any]:
    controller = engine.gc_controller
    if controller is None:
        raise ConfigError("this engine has no GC controller")
    frozen = controller.freeze_after_warmup()
    engine.emit("gc", f"froze {frozen:,} objects: full collections skip them")
    return {"frozen": frozen}


@COMMANDS.register("gc_unfreeze", "GC freeze")  # reads by the dashboard's generic fallback
def gc_unfreeze(engine: CommandTarget) -> dict[str, Any]:
    """Undo `gc_freeze` (the tuner's rollback): only the engine's own freeze, never the
    program's (see `GCController.unfreeze`)."""
    controller = engine.gc_controller
    if controller is None:
        raise ConfigError("this engine has no GC controller")
    unfrozen = controller.unfreeze()
    engine.emit("gc", f"unfroze {unfrozen:,} objects: full collections see them again")
    return {"unfrozen": unfrozen}
