"""The `cached` hit path, written for the wrapped function's own signature.

A wrapper declared `def wrapper(*args, **kwargs)` pays for packing a tuple and a dict on
every call, and for hashing the tuple key, which Python does not cache: that was 60% of a
hit. So where the function's parameters are plain names (no `*args`, no `**kwargs`), the
wrapper is generated with the same parameters, as `dataclasses` generates `__init__`:

- one parameter: the argument itself is the key, as `functools.lru_cache` does for one
  `int` or `str` argument. It is unambiguous because every call has exactly one argument;
- more: the tuple of the arguments in parameter order, whether they were passed by position,
  by keyword or left to their defaults, so `f(1)`, `f(1, 2)` and `f(a=1)` share one entry
  when `b` defaults to 2.

The wrapper's defaults are the function's own objects (assigned, not written in the source),
and `functools.update_wrapper` gives it the name, docs and `__wrapped__` for `inspect`.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Hashable
from typing import Any

#: what a miss is handed: the key, then the arguments to call the function with
Miss = Callable[[Hashable, tuple[Any, ...], dict[str, Any]], Any]

_VARARGS = 0x04  # inspect.CO_VARARGS
_VARKEYWORDS = 0x08  # inspect.CO_VARKEYWORDS
_PREFIX = "_tp_"  # the generated code's own names; a parameter so named falls back


def parameters(fn: Callable[..., Any]) -> tuple[list[str], list[str], list[str]] | None:
    """(positional-only, positional-or-keyword, keyword-only) names of a plain function, or
    None when a generated wrapper cannot take its place (`*args`, `**kwargs`, no code)."""
    if not isinstance(fn, types.FunctionType):
        return None
    code = fn.__code__
    if code.co_flags & (_VARARGS | _VARKEYWORDS):
        return None
    names = code.co_varnames
    n_pos, n_posonly, n_kw = code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount
    if n_pos + n_kw == 0:
        return None  # nothing to key on: the generic wrapper's empty tuple does
    if any(
        name.startswith(_PREFIX) or name in ("KeyError", "TypeError")
        for name in names[: n_pos + n_kw]
    ):
        return None  # a parameter would shadow a name the generated code uses
    defaults = (*(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values())
    try:
        for value in defaults:
            hash(value)
    except TypeError:
        return None  # an unhashable default (`opts=[]`) cannot be in a key: keyed as passed
    return list(names[:n_posonly]), list(names[n_posonly:n_pos]), list(names[n_pos : n_pos + n_kw])


def generate(
    fn: Callable[..., Any],
    *,
    data: dict[Any, Any] | None,
    touch: Callable[[Any], None] | None,
    counter: Any,
    miss: Miss,
) -> Callable[..., Any] | None:
    """A wrapper with `fn`'s parameters, or None where `parameters` says it cannot be made.

    With `data`, a hit is one read of that dict, `touch(key)` when given (the LRU move) and
    `counter.hits += 1`; anything else is `miss(key, args, kwargs)`. Without `data` (policies
    whose reads must hold the tier's lock) every call goes to `miss`.
    """
    params = parameters(fn)
    if params is None:
        return None
    posonly, pos, kwonly = params
    signature = ", ".join(
        [*posonly, *(["/"] if posonly else []), *pos, *(["*", *kwonly] if kwonly else [])]
    )
    every = [*posonly, *pos, *kwonly]
    key = every[0] if len(every) == 1 else "(" + "".join(f"{n}, " for n in every) + ")"
    positional = "(" + "".join(f"{n}, " for n in [*posonly, *pos]) + ")"
    keywords = "{" + ", ".join(f"{n!r}: {n}" for n in kwonly) + "}"
    # one parameter is its own key: no assignment (a store and a load less per hit)
    setup = [] if len(every) == 1 else [f"{_PREFIX}k = {key}"]
    k = key if len(every) == 1 else f"{_PREFIX}k"
    call_miss = f"return {_PREFIX}miss({k}, {positional}, {keywords})"
    if data is None:
        body = [*setup, call_miss]
    else:
        body = [
            *setup,
            "try:",
            f"    {_PREFIX}value = {_PREFIX}data[{k}]",
            "except (KeyError, TypeError):  # TypeError: unhashable; miss refuses it",
            f"    {call_miss}",
        ]
        if touch is not None:
            body += [
                "try:",
                f"    {_PREFIX}touch({k})",
                "except KeyError:  # evicted by another thread between the two reads: a hit",
                "    pass",
            ]
        body += [f"{_PREFIX}counter.hits += 1", f"return {_PREFIX}value"]
    source = (
        f"def {_PREFIX}outer({_PREFIX}data, {_PREFIX}touch, {_PREFIX}counter, {_PREFIX}miss):\n"
        f"    def wrapper({signature}):\n"
        + "".join(f"        {line}\n" for line in body)
        + "    return wrapper\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<tui_perf.cached {fn.__qualname__}>", "exec"), namespace)
    wrapper: types.FunctionType = namespace[f"{_PREFIX}outer"](data, touch, counter, miss)
    # A TypeError for a bad call names the function, not this generator; the file stays
    # `<tui_perf.cached ...>`, so tracebacks and profiles tell the wrapper from the function.
    wrapper.__code__ = wrapper.__code__.replace(co_name=fn.__name__, co_qualname=fn.__qualname__)
    wrapper.__defaults__ = fn.__defaults__
    wrapper.__kwdefaults__ = dict(fn.__kwdefaults__) if fn.__kwdefaults__ else None
    return wrapper
