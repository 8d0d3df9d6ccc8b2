"""What a command's result says to a person: its title, and one or two lines from its reply.

Pure functions over the reply dicts the engine's commands return (locally or through the
agent), so they are tested without an app and read the same for either source.
"""

from __future__ import annotations

from typing import Any

from tui_perf.model.format import fmt_bytes, fmt_ms, fmt_released

#: what a command is called where people read it
COMMAND_TITLES = {
    "emergency_cleanup": "Emergency cleanup",
    "gc_collect": "Full collection",
    "next_gc_strategy": "GC strategy",
    "set_gc_strategy": "GC strategy",
    "set_adaptive": "Adaptive GC",
    "flush_cache": "Flush caches",
    "run_benchmarks": "Benchmarks",
    "census": "GC census",
    "profile_start": "Profiler",
    "profile_stop": "Profiler",
    "profile_export": "Flame graph",
    "alloc_mark": "Allocations",
    "alloc_start": "Allocations",
    "set_cache_size": "Cache size",
    "set_cache_ttl": "Cache TTL",
    "resize_pool": "Pool size",
    "set_pool_idle": "Pool idle limit",
    "gc_freeze": "GC freeze",
    "gc_unfreeze": "GC freeze",
    "set_tuning": "Tuner",
}


def describe_result(name: str, result: dict[str, Any]) -> str:
    """One or two lines a person reads in a notification."""
    if name == "emergency_cleanup":
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
    if name == "gc_collect":
        return (
            f"{result['collected']} unreachable objects collected in "
            f"{fmt_ms(result['duration_ms'])}"
        )
    if name in ("next_gc_strategy", "set_gc_strategy"):
        off = "; adaptive GC is now off (a)" if result.get("adaptive_turned_off") else ""
        return f"strategy: {result['strategy']}{off}"
    if name == "set_tuning":
        state = "on" if result["enabled"] else "off"
        return f"tuner {state}; profile {result['profile']} ({result['why']})"
    if name == "set_adaptive":
        return f"adaptive GC {'on' if result['adaptive'] else 'off'} ({result['strategy']})"
    if name == "flush_cache":
        return f"{result['dropped']} entries dropped from {result['caches']} caches"
    if name == "run_benchmarks":
        return f"{len(result.get('results', []))} benchmarks measured (see Benchmarks)"
    if name == "census":
        census = result.get("census", [])
        top = ", ".join(f"{t} x{n}" for t, n in census[:3])
        return f"{sum(n for _, n in census)} objects in cycles" + (f": {top}" if top else "")
    if name in ("profile_start", "profile_stop"):
        state = "sampling" if result.get("running") else "stopped"
        return f"{state} at {result.get('target_hz', 0):.0f} Hz; {result.get('samples', 0)} samples"
    if name == "profile_export":
        return (
            f"flame graph written to {result.get('path')} ({result.get('stacks', 0)} stacks); "
            "open it at https://www.speedscope.app"
        )
    if name == "alloc_mark":
        started = "tracing started; " if result.get("started") else ""
        return f"{started}allocations marked at {fmt_bytes(result.get('traced', 0))} traced"
    if name == "alloc_start":
        return (
            f"tracing allocations (tracebacks {result.get('frames', 1)} frames deep): "
            "the growing lines show in Profile"
        )
    if name == "set_cache_size":
        evicted = f"; {result['evicted']:,} evicted" if result.get("evicted") else ""
        return (
            f"{result['name']}: maxsize {result['before']:,} → {result['maxsize']:,}{evicted}; "
            "Advice judges the change over its next window"
        )
    if name == "set_cache_ttl":
        return f"{result['name']}: ttl {result['before']:g} s → {result['ttl']:g} s"
    if name == "resize_pool":
        return f"{result['name']}: max_size {result['before']} → {result['max_size']}"
    if name == "set_pool_idle":
        return (
            f"{result['name']}: max_idle {result['before']} → {result['max_idle']} "
            f"({result['dropped']} idle dropped)"
        )
    if name == "gc_freeze":
        return f"{result['frozen']:,} objects frozen: full collections skip them"
    return str(result)
