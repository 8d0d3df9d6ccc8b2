"""Caches the program made without tui-perf: `functools.lru_cache`, and cachetools' `@cached`
with `info=True`, found in its own modules and read through their `cache_info()`.

Programs have dozens of these and they are invisible otherwise. Discovery walks the module
dicts of `sys.modules` (module-level functions, and the methods, static and class methods
of classes defined there): a few milliseconds every `interval` seconds, not a walk of the
heap. Only the program's own modules count: the standard library, installed packages
(site-packages) and tui-perf itself are left out, because their caches are not the user's to
tune and would bury the ones that are. Reading the counters each tick costs one
`cache_info()` call per cache.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

from tui_perf.model.snapshot import CacheStats, TierStats

Clock = Callable[[], float]

#: attributes looked at per discovery, at most: a bound on the walk, whatever is imported
MAX_ATTRIBUTES = 200_000


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    return tuple(os.path.realpath(r) + os.sep for r in roots if r)


def cache_kind(value: object) -> str | None:
    """The kind of cache with counters `value` is ("lru_cache", "cachetools"), or None.

    Only the type and a plain function's own `__dict__` are looked at, never `getattr` on
    an arbitrary object: a module attribute may be a proxy whose attribute access raises or
    does work (a web framework's request proxy, a lazy module).
    """
    kind = type(value)
    if kind.__name__ == "_lru_cache_wrapper" and kind.__module__ == "functools":
        return "lru_cache"
    if kind.__module__.startswith("cachetools") and callable(getattr(kind, "cache_info", None)):
        return "cachetools"  # cachetools 6+: a wrapper class (looked up on the class)
    if isinstance(value, types.FunctionType):
        own = value.__dict__  # older cachetools: a plain function with these set on it
        ours = type(own.get("cache")).__module__.startswith("tui_perf.")
        if callable(own.get("cache_info")) and "cache" in own and not ours:
            return "cachetools"  # (tui_perf's `cached` has both too: registered already)
    return None


class ForeignCaches:
    """The program's own lru_caches, rediscovered every `interval` seconds, read each tick."""

    def __init__(
        self,
        *,
        interval: float = 30.0,
        clock: Clock = time.monotonic,
        modules: Callable[[], dict[str, Any]] = lambda: dict(sys.modules),
    ) -> None:
        self.interval = interval
        self.clock = clock
        self._modules = modules
        self._found: dict[str, tuple[str, Any]] = {}  # name -> (kind, the cached function)
        self._next = float("-inf")
        self._roots = _library_roots()
        self._verdicts: dict[str, bool] = {}  # a module file -> whether it is the program's
        self.discoveries = 0

    def stats(self) -> tuple[CacheStats, ...]:
        now = self.clock()
        if now >= self._next:
            # A program started under `run` defines its functions after the agent starts:
            # look again soon at first (1, 2, 5, 10 s), then every `interval`.
            early = (1.0, 2.0, 5.0, 10.0)
            wait = early[self.discoveries] if self.discoveries < len(early) else self.interval
            self._next = now + min(wait, self.interval)
            self._found = dict(self._discover())
            self.discoveries += 1
        out = []
        for name, (kind, fn) in self._found.items():
            try:
                info = fn.cache_info()
                misses, size = int(info.misses), int(info.currsize)
                bounded = bool(info.maxsize)
                tier = TierStats(
                    "L1",
                    kind,
                    hits=int(info.hits),
                    misses=misses,
                    size=size,
                    maxsize=None if info.maxsize is None else int(info.maxsize),
                    # every miss stores its result; once full, each store evicts one (and
                    # cache_clear() resets the counters with the entries): exact, not guessed
                    evictions=max(0, misses - size) if bounded else 0,
                )
            except Exception:  # a cache_info of another shape: leave it out, never raise
                continue
            out.append(CacheStats(name, (tier,)))
        return tuple(out)

    def _ours(self, module: Any) -> bool:
        """A module of the program: not built in, not a library, not tui-perf."""
        name = getattr(module, "__name__", "") or ""
        if name == "tui_perf" or name.startswith("tui_perf."):
            return False
        path = getattr(module, "__file__", None)
        if not isinstance(path, str):
            return name == "__main__"
        # realpath stats every part of the path: 10 ms for a program's thousand modules at
        # each look. A file's verdict does not change, so each is worked out once.
        verdict = self._verdicts.get(path)
        if verdict is None:
            verdict = self._verdicts[path] = not os.path.realpath(path).startswith(self._roots)
        return verdict

    def _discover(self) -> Iterator[tuple[str, tuple[str, Any]]]:
        budget = MAX_ATTRIBUTES
        for mod_name, module in self._modules().items():
            if module is None or not self._ours(module):
                continue
            try:
                items = list(vars(module).items())
            except TypeError:
                continue
            for attr, value in items:
                budget -= 1
                if budget <= 0:
                    return
                kind = cache_kind(value)
                if kind is not None:
                    yield f"{mod_name}.{attr}", (kind, value)
                elif isinstance(value, type) and value.__dict__.get("__module__") == mod_name:
                    for member, inner in list(vars(value).items()):
                        budget -= 1
                        if isinstance(inner, staticmethod | classmethod):
                            inner = inner.__func__  # a static or class method's function
                        kind = cache_kind(inner)
                        if kind is not None:
                            yield f"{mod_name}.{value.__qualname__}.{member}", (kind, inner)
