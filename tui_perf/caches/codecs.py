"""How L2 values are stored: JSON or signed pickle, zlib above a size threshold.

Unsigned pickle read from a shared store (a Redis server, a file other processes write) is
code execution for whoever can write there, so pickle needs an HMAC key: every value is
signed when written and its signature checked, in constant time, before it is unpickled.
A value that fails the check raises `TamperedValueError`; the cache treats it as a miss.

Layout: one format byte (b"J" JSON, b"P" pickle; lower case when zlib-compressed), then for
pickle a 32-byte HMAC-SHA256 over the value's place, the format byte and the payload, then
the payload. The format byte is signed too: flipping it must not make the reader unpickle
other bytes. The place is where the value lives (the cache passes the L2 key, which holds
the cache's namespace and the key): a signed value copied to another key, or to another
cache sharing the secret, fails the check like a forged one. It is signed with its length
first, so no place and payload can be cut differently to give the same input.

Decompression is bounded by `max_value_bytes` (64 MiB unless set): a small compressed value
in a shared store must not make a reader allocate without limit. Any value that cannot be
decoded raises `UndecodableValueError` (or `TamperedValueError`), which the cache counts as
a miss.

JSON changes some values (tuples come back as lists, int keys as strings): `JsonCodec`
refuses at `set` any value that would not come back equal, naming the codec, instead of
handing back a different value later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
import zlib
from typing import Protocol

from tui_perf.model.errors import ConfigError, TuiPerfError

_SIG = 32


class TamperedValueError(TuiPerfError):
    """A stored value whose signature does not match: refused, never unpickled."""


class UndecodableValueError(TuiPerfError):
    """A stored value that is not in this codec's format."""


#: where a value is stored (the cache passes its L2 key), bound into a signature; opaque here
Place = bytes | str


class Codec(Protocol):
    name: str

    def encode(self, value: object, *, place: Place = b"") -> bytes: ...

    def decode(self, data: bytes, *, place: Place = b"") -> object: ...


MAX_VALUE_BYTES = 64 * 1024 * 1024


class JsonCodec:
    """JSON: portable and safe to read from anywhere; values must round-trip exactly."""

    name = "json"

    def __init__(self, compress_above: int = 1024, max_value_bytes: int = MAX_VALUE_BYTES) -> None:
        self.compress_above = compress_above
        self.max_value_bytes = max_value_bytes

    def encode(self, value: object, *, place: Place = b"") -> bytes:
        # Unsigned, so the place is not bound: anyone who can write the store can write JSON.
        try:
            body = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"JsonCodec cannot store this value ({exc}); use PickleCodec"
            ) from exc
        if not _json_exact(value):
            raise ConfigError(
                f"JsonCodec would not give this {type(value).__name__} back equal (tuples "
                "become lists, non-string keys become strings); convert it, or use PickleCodec"
            )
        return _pack(b"J", body, self.compress_above)

    def decode(self, data: bytes, *, place: Place = b"") -> object:
        _, body = _unpack(data, b"J", self.max_value_bytes)
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise UndecodableValueError(f"corrupt JSON value: {exc}") from exc


class PickleCodec:
    """Pickle, signed with HMAC-SHA256 under a key only the program's processes know."""

    name = "pickle"

    def __init__(
        self,
        hmac_key: bytes | str,
        compress_above: int = 1024,
        max_value_bytes: int = MAX_VALUE_BYTES,
    ) -> None:
        key = hmac_key.encode() if isinstance(hmac_key, str) else hmac_key
        if len(key) < 16:
            raise ConfigError("hmac_key must be at least 16 bytes (use secrets.token_bytes(32))")
        self._key = key
        self.compress_above = compress_above
        self.max_value_bytes = max_value_bytes

    def _sign(self, place: Place, packed: bytes) -> bytes:
        where = _place_bytes(place)
        mac = hmac.new(self._key, len(where).to_bytes(8, "big"), hashlib.sha256)
        mac.update(where)
        mac.update(packed)
        return mac.digest()

    def encode(self, value: object, *, place: Place = b"") -> bytes:
        packed = _pack(
            b"P", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), self.compress_above
        )
        return packed[:1] + self._sign(place, packed) + packed[1:]

    def decode(self, data: bytes, *, place: Place = b"") -> object:
        if len(data) < 1 + _SIG or data[:1] not in (b"P", b"p"):
            raise UndecodableValueError("not a signed pickle value")
        sig, rest = data[1 : 1 + _SIG], data[1 + _SIG :]
        if not hmac.compare_digest(sig, self._sign(place, data[:1] + rest)):
            raise TamperedValueError(
                "a cached value's signature does not match: it was written by someone without "
                "the key, altered, or moved from another key or cache; refused without "
                "unpickling"
            )
        _, body = _unpack(data[:1] + rest, b"P", self.max_value_bytes)
        try:
            return pickle.loads(body)
        except Exception as exc:  # signed by us, yet not loadable (a class that moved, say)
            raise UndecodableValueError(f"signed value does not unpickle: {exc!r}") from exc


def _place_bytes(place: Place) -> bytes:
    # surrogatepass: a str key may hold lone surrogates; they must sign, not raise
    return place.encode("utf-8", "surrogatepass") if isinstance(place, str) else place


def _pack(tag: bytes, body: bytes, compress_above: int) -> bytes:
    if len(body) > compress_above:
        return tag.lower() + zlib.compress(body, 1)
    return tag + body


def _unpack(data: bytes, tag: bytes, limit: int) -> tuple[bytes, bytes]:
    head = data[:1]
    if head == tag:
        return head, data[1:]
    if head == tag.lower():
        inflate = zlib.decompressobj()
        try:
            body = inflate.decompress(data[1:], limit)
        except zlib.error as exc:
            raise UndecodableValueError(f"corrupt compressed value: {exc}") from exc
        if inflate.unconsumed_tail:
            raise UndecodableValueError(
                f"compressed value inflates past max_value_bytes ({limit} bytes): refused"
            )
        return head, body
    raise UndecodableValueError(f"stored value is not {tag.decode()}-encoded")


def _json_exact(value: object, depth: int = 0) -> bool:
    """Would `json.loads(json.dumps(value))` give back an equal value of the same types?"""
    if depth > 200:
        return False
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return value == value and value not in (float("inf"), float("-inf"))
    if type(value) is list:
        return all(_json_exact(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _json_exact(v, depth + 1) for k, v in value.items())
    return False  # tuples, sets, subclasses of dict/list, anything else
