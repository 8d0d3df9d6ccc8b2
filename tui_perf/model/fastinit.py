"""A cheaper `__init__` for the frozen, slotted dataclasses built on every tick.

A frozen dataclass's generated `__init__` stores each field with `object.__setattr__(self,
name, value)`, a global lookup and a call with a string per field: 2.5 µs for GCStats' 17
fields, where a tick's whole budget is about 17 µs. The slots' own member descriptors store
without the name lookup, at 60% of that cost. The class stays frozen (assignment after
construction still raises), and its signature, defaults, equality and hash are unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

C = TypeVar("C", bound=type)


def fast_init(cls: C) -> C:
    """Give a frozen `slots=True` dataclass an `__init__` that stores through its slots.

    Only for plain fields: no `default_factory`, no `init=False`, no keyword-only fields,
    no `__post_init__` (each would need what the dataclass's own `__init__` does).
    """
    params = dataclasses.fields(cls)
    if "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: fast_init needs a slotted dataclass, no __post_init__")
    namespace: dict[str, Any] = {}
    signature: list[str] = []
    body: list[str] = []
    for f in params:
        if not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: fast_init takes plain fields only")
        if f.default is dataclasses.MISSING:
            signature.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            signature.append(f"{f.name}=_default_{f.name}")
        namespace[f"_store_{f.name}"] = cls.__dict__[f.name].__set__
        body.append(f"    _store_{f.name}(self, {f.name})\n")
    source = f"def __init__(self, {', '.join(signature)}):\n" + ("".join(body) or "    pass\n")
    exec(compile(source, f"<fast_init {cls.__qualname__}>", "exec"), namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(cls.__dict__["__init__"].__annotations__)
    cls.__init__ = init  # type: ignore[misc]
    return cls
