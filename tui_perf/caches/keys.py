"""One canonical key for every tier: what a cache key means, in L1 and in L2 alike.

L1 compares keys with `==`; L2 stores them as text. When the two disagree, an operation on
one key reaches another's entry in one tier and not the other (`set(1)` then `delete(1.0)`
left the L2 row), and a key whose text is its memory address reads whatever object lived
there before. So a key is turned once into a **canonical form**, a hashable value made of
plain builtins, and both tiers key by it: L1 holds the form itself, L2 its `text`.

What has a canonical form (exact types; anything else is refused):

- `str`, `bytes`, `int`, `None`: themselves.
- numbers: equal in Python means one key, as `functools.lru_cache(typed=False)` has it.
  `1`, `1.0`, `True`, `Decimal("1.00")` and an `IntEnum` member of value 1 are the int `1`;
  a non-integral `float` stays a float, and a `Decimal` equal to it becomes that float; any
  other `Decimal` is kept normalized. NaN has no canonical form (it equals nothing).
- `UUID`, `date`, `datetime` (an aware one as the same instant in UTC, since Python holds
  instants equal across zones).
- `Enum` members by class path and name (`int`/`str` enums are their value, as above);
  frozen `dataclass` instances field by field (the fields that take part in `==`).
- `tuple`s (order kept) and `frozenset`s (order ignored) of canonical keys.

With `typed=True` types are kept apart everywhere: `1`, `1.0`, `True` and `Decimal(1)` are
four keys. Exact `str` and `int` are their own canonical form in both modes, which is why
the hit path can look a plain `str` or `int` up as it comes.

A key with no canonical form (a default `object` repr, which holds an address; a mutable
container; a class defined inside a function, which has no name another process can
read) is refused with `UnkeyableError`, a `ConfigError` that names its type and says to
pass `key=`. Nothing is ever keyed by an address.

One exception, `local=True`, for a cache with no L2: its keys never leave the process, so
a hashable object with no canonical form (a method's `self`) is its own key there, compared
by its `==` as `functools.lru_cache` does; L1 holds it, so its address cannot be reused
while the entry lives. The rest of such a key is still canonical. Mutable keys are refused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Hashable
from decimal import Decimal
from typing import Any
from uuid import UUID

from tui_perf.model.errors import ConfigError


class UnkeyableError(ConfigError, TypeError):
    """A key with no canonical form. A `TypeError` too, as an unhashable key is for
    `functools.lru_cache`."""


class _Mark:
    """Starts every tagged form: no key of a user's can contain it, so a tagged form never
    equals a user's tuple."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<mark>"


_MARK = _Mark()

#: separates positional from keyword arguments in `cached`'s keys; canonical as it is
KW: tuple[Any, ...] = (_MARK, "kw")

_PLAIN = (str, int, bytes, type(None), UUID, dt.date)  # their own form (dt.datetime aside)


def canonical(key: Any, typed: bool = False, local: bool = False) -> Any:
    """The canonical form of `key`; `UnkeyableError` for a key that has none (with `local`,
    only for an unhashable one: see the module's docstring).

    Idempotent: a canonical form is its own canonical form.
    """
    kind = type(key)
    if kind is str or kind is int:
        return key
    if kind is tuple:
        if key and key[0] is _MARK:
            return key  # a tagged form, already canonical
        return tuple([canonical(item, typed, local) for item in key])
    if kind in _PLAIN:
        return key
    try:
        return _other(key, kind, typed, local)
    except UnkeyableError:
        if local and _hashable(key):
            return key
        raise


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def _other(key: Any, kind: type, typed: bool, local: bool) -> Any:
    if kind is dt.datetime:
        if key.utcoffset() is None:
            # fold tells two wall times apart only for an aware clock; naive ones equal in
            # Python (and in L1) must not differ in L2's text (found by an attack)
            return key.replace(fold=0) if key.fold else key
        return key.astimezone(dt.UTC)
    if kind is bool:
        return (_MARK, "bool", int(key)) if typed else int(key)
    if kind is float:
        return _float(key, typed)
    if kind is Decimal:
        return _decimal(key, typed)
    if kind is frozenset:
        return (_MARK, "frozenset", frozenset([canonical(item, typed, local) for item in key]))
    if isinstance(key, enum.Enum):
        return _enum(key, typed)
    if dataclasses.is_dataclass(key) and not isinstance(key, type):
        return _dataclass(key, typed, local)
    raise _refused(key)


def _float(key: float, typed: bool) -> Hashable:
    if key != key:
        raise UnkeyableError("a cache key cannot be NaN (it equals nothing); pass key=")
    if typed:
        return (_MARK, "float", key + 0.0)  # -0.0 and 0.0 are equal: one key
    return int(key) if key.is_integer() else key


def _decimal(key: Decimal, typed: bool) -> Hashable:
    if not key.is_finite():
        if key.is_nan():
            raise UnkeyableError("a cache key cannot be NaN (it equals nothing); pass key=")
        return (_MARK, "decimal", str(key)) if typed else float(key)
    if typed:
        return (_MARK, "decimal", "0" if key.is_zero() else str(key.normalize()))
    if abs(key.adjusted()) > 4000:  # an int of a thousand digits is no key; nor its text
        raise UnkeyableError("a Decimal key this large or small has no canonical form")
    if key == key.to_integral_value():
        return int(key)
    as_float = float(key)
    return as_float if as_float == key else key.normalize()


def _enum(key: enum.Enum, typed: bool) -> Hashable:
    if not typed:  # a member with a value type mixed in equals its value in Python
        if isinstance(key, int):
            return int(key)
        if isinstance(key, str):
            return str.__str__(key)
        if isinstance(key, float):
            return _float(float(key), typed)
    return (_MARK, "enum", _path(type(key), key), key.name)


def _dataclass(key: Any, typed: bool, local: bool) -> Hashable:
    params = type(key).__dataclass_params__
    if not params.frozen or not params.eq:
        why = "not frozen" if not params.frozen else "eq=False (equal only to itself)"
        raise UnkeyableError(
            f"a cache key of type {_name(key)} is a dataclass {why}: it has no canonical "
            "form; make it frozen, or pass key="
        )
    fields = tuple(
        (f.name, canonical(getattr(key, f.name), typed, local))
        for f in dataclasses.fields(key)
        if f.compare
    )
    return (_MARK, "dataclass", _path(type(key), key), fields)


def _path(cls: type, key: Any) -> str:
    """A class's name as another process can read it; a class made in a function has none."""
    if "<locals>" in cls.__qualname__:
        raise UnkeyableError(
            f"a cache key of type {_name(key)} is of a class defined inside a function: it "
            "has no name another process could read; define it at module level, or pass key="
        )
    return f"{cls.__module__}.{cls.__qualname__}"


def _name(key: Any) -> str:
    return f"{type(key).__module__}.{type(key).__qualname__}"


def _refused(key: Any) -> UnkeyableError:
    if not _hashable(key) or isinstance(key, (list, dict, set, bytearray)):
        why = "is mutable (unhashable)"
    else:
        why = "has no canonical form (its text would be its repr, which may be an address)"
    return UnkeyableError(
        f"a cache key of type {_name(key)} {why}: use str, bytes, numbers, None, UUID, "
        "dates, enums, frozen dataclasses or tuples/frozensets of them, or pass key="
    )


def text(form: Hashable) -> str:
    """L2's text for a canonical form: "s" + a str as it is (so string prefixes work), or
    "r" + a repr-like text that no other form has."""
    if type(form) is str:
        return "s" + form
    return "r" + _text(form)


def _text(form: Any) -> str:
    kind = type(form)
    if kind is tuple:
        if form and form[0] is _MARK:
            return _tagged_text(form)
        inner = ", ".join([_text(item) for item in form])
        return f"({inner},)" if len(form) == 1 else f"({inner})"
    try:
        return repr(form)  # str, int, float, bytes, None, Decimal, UUID, date, datetime
    except ValueError as exc:  # an int past Python's digit limit
        raise UnkeyableError(f"a cache key too large to write down: {exc}") from None


def _tagged_text(form: tuple[Any, ...]) -> str:
    tag = form[1]
    if tag == "frozenset":
        return "<frozenset {" + ", ".join(sorted(_text(item) for item in form[2])) + "}>"
    if tag == "dataclass":
        fields = ", ".join(f"{name}={_text(value)}" for name, value in form[3])
        return f"<{form[2]}({fields})>"
    if tag == "enum":
        return f"<enum {form[2]} {form[3]!r}>"
    if tag == "kw":
        return "<kw>"
    return f"<{tag} {form[2]!r}>"  # bool, float, decimal under typed=True
