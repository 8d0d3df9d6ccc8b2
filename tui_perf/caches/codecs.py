"""How L2 values are stored: JSON or signed pickle, zlib above a size threshold.

Unsigned pickle read from a shared store (a Redis server, a file other processes write) is
code execution for whoever can write there, so pickle needs an HMAC key: every value is
signed when written and its signature checked, in constant time, before it is unpickled.
A value that fails the check raises `TamperedValueError`; the cache treats it as a miss.

Layout: one format byte (b"J" JSON, b"P" pickle; lower case when zlib-compressed), then for
pickle a 32-byte HMAC-SHA256 over everything after it, then the payload.
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


class Codec(Protocol):
    name: str

    def encode(self, value: object) -> bytes: ...

    def decode(self, data: bytes) -> object: ...


class JsonCodec:
    """JSON: portable and safe to read from anywhere; values must be JSON types."""

    name = "json"

    def __init__(self, compress_above: int = 1024) -> None:
        self.compress_above = compress_above

    def encode(self, value: object) -> bytes:
        try:
            body = json.dumps(value, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"value is not JSON-serialisable ({exc}); use PickleCodec") from exc
        return _pack(b"J", body, self.compress_above)

    def decode(self, data: bytes) -> object:
        _, body = _unpack(data, b"J")
        return json.loads(body)


class PickleCodec:
    """Pickle, signed with HMAC-SHA256 under a key only the program's processes know."""

    name = "pickle"

    def __init__(self, hmac_key: bytes | str, compress_above: int = 1024) -> None:
        key = hmac_key.encode() if isinstance(hmac_key, str) else hmac_key
        if len(key) < 16:
            raise ConfigError("hmac_key must be at least 16 bytes (use secrets.token_bytes(32))")
        self._key = key
        self.compress_above = compress_above

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()

    def encode(self, value: object) -> bytes:
        packed = _pack(
            b"P", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), self.compress_above
        )
        return packed[:1] + self._sign(packed[1:]) + packed[1:]

    def decode(self, data: bytes) -> object:
        if len(data) < 1 + _SIG or data[:1] not in (b"P", b"p"):
            raise UndecodableValueError("not a signed pickle value")
        sig, rest = data[1 : 1 + _SIG], data[1 + _SIG :]
        if not hmac.compare_digest(sig, self._sign(rest)):
            raise TamperedValueError(
                "a cached value's signature does not match: it was written by someone without "
                "the key, or altered; refused without unpickling"
            )
        _, body = _unpack(data[:1] + rest, b"P")
        return pickle.loads(body)


def _pack(tag: bytes, body: bytes, compress_above: int) -> bytes:
    if len(body) > compress_above:
        return tag.lower() + zlib.compress(body, 1)
    return tag + body


def _unpack(data: bytes, tag: bytes) -> tuple[bytes, bytes]:
    head = data[:1]
    if head == tag:
        return head, data[1:]
    if head == tag.lower():
        try:
            return head, zlib.decompress(data[1:])
        except zlib.error as exc:
            raise UndecodableValueError(f"corrupt compressed value: {exc}") from exc
    raise UndecodableValueError(f"stored value is not {tag.decode()}-encoded")
