"""A benchmark by name, wherever the worker and `--ab` look for it: the built-in suite or a
user's targets.

It sits above both `registry` (which loads targets) and `suite` (which registers the
built-in benchmarks through `registry`), so those two do not import each other.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from tui_perf.bench.registry import Benchmark, BenchmarkError, load

_LOADED: dict[tuple[str, ...], tuple[list[Benchmark], list[Any]]] = {}


def _load_with_modules(targets: Sequence[str]) -> tuple[list[Benchmark], list[Any]]:
    """The benchmarks and the modules of `targets`, loaded once per process."""
    key = tuple(targets)
    if key not in _LOADED:
        if not targets:
            from tui_perf.bench import suite  # lazily: importing it registers the suite

            _LOADED[key] = (suite.builtin(), [suite])
        else:
            modules: list[Any] = []
            _LOADED[key] = (load(targets, require=False, modules=modules), modules)
    return _LOADED[key]


def find(targets: Sequence[str], name: str) -> Benchmark:
    """A benchmark by name in `targets` (the built-in suite when empty), or a plain top-level
    function of that name in them, timed as a benchmark (for `--ab OLD NEW`)."""
    benches, modules = _load_with_modules(targets)
    for bench in benches:
        if bench.name == name:
            return bench
    for module in modules:
        fn = getattr(module, name, None)
        if callable(fn) and not isinstance(fn, type):
            params = inspect.signature(fn).parameters
            needed = [
                p
                for p in params.values()
                if p.default is inspect.Parameter.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ]
            if any(p.name != "loops" for p in needed):
                raise BenchmarkError(
                    f"{name} takes arguments; a function to time takes none (or only `loops`)"
                )
            return Benchmark(
                name,
                "ab",
                fn,
                "loops" in params,
                inspect.iscoroutinefunction(fn),
                {},
                module.__name__,
            )
    where = ", ".join(targets) if targets else "the built-in suite"
    raise BenchmarkError(f"no benchmark or function named {name!r} in {where}")
