"""Coherence over a shared Redis tier: invalidations reach every process's L1.

With `MultiLevelCache(..., l2=RedisTier(...), coherence=True)` every delete, tag and prefix
invalidation and clear is published on a Redis channel, and every cache of the same
namespace in every subscribed process drops its L1 copies (as cashews' client-side cache
does). A daemon thread listens; a message from this very cache is ignored.

While the server is unreachable no message flows: L1 copies may then stay stale until they
expire (give L1 a `ttl` to bound that) and the listener reconnects by itself with backoff.
"""

from __future__ import annotations

import ast
import json
import logging
import secrets
import threading
import weakref
from collections.abc import Hashable, Iterable
from typing import Any, Protocol

from tui_perf.model.errors import ConfigError

log = logging.getLogger(__name__)

CHANNEL = "tui-perf:invalidate"


class LocalCopies(Protocol):
    """What coherence needs of a cache: its names and the way to drop its L1 copies.

    `MultiLevelCache` is one; declared here so this module does not import the cache that
    imports it.
    """

    @property
    def name(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def l1(self) -> Iterable[Hashable]: ...
    def key_str(self, key: Hashable) -> str: ...  # the canonical key's text (caches.keys)
    def drop_local(self, key: Hashable) -> bool: ...
    def drop_local_prefix(self, prefix: str) -> int: ...
    def drop_local_tag(self, tag: str) -> int: ...
    def clear_local(self) -> None: ...


class RedisCoherence:
    """Publishes this cache's invalidations and applies other processes' to its L1."""

    def __init__(self, cache: LocalCopies, tier: Any) -> None:
        client = getattr(tier, "_client", None)
        if client is None or getattr(tier, "kind", "") != "redis":
            raise ConfigError("coherence=True needs a RedisTier as L2")
        self._client = client
        self.channel = getattr(tier, "prefix", "") + CHANNEL
        self.namespace = cache.namespace
        self.origin = secrets.token_hex(8)
        self.published = self.received = self.errors = 0
        self._closed = threading.Event()
        self._ready = threading.Event()
        self._cache = weakref.ref(cache)
        self._thread = threading.Thread(
            target=self._listen, name=f"tui-perf-coherence-{cache.name}", daemon=True
        )
        self._thread.start()
        self._ready.wait(2.0)  # subscribed before the first publish, when the server is up

    def publish(self, kind: str, arg: str) -> None:
        message = json.dumps({"o": self.origin, "n": self.namespace, "k": kind, "a": arg})
        try:
            self._client.publish(self.channel, message)
            self.published += 1
        except Exception:  # an outage: the breaker reports the tier; this only counts
            self.errors += 1

    def _listen(self) -> None:
        delay = 0.1
        while not self._closed.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                self._ready.set()
                delay = 0.1
                while not self._closed.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    if message is not None:
                        self._apply(message.get("data"))
            except Exception:
                self.errors += 1
                self._ready.set()
                self._closed.wait(delay)  # the server is away: try again, backing off
                delay = min(delay * 2, 5.0)
            finally:
                try:
                    pubsub.close()
                except Exception:
                    self.errors += 1

    def _apply(self, data: Any) -> None:
        try:
            msg = json.loads(data)
            if msg.get("o") == self.origin or msg.get("n") != self.namespace:
                return
            kind, arg = str(msg["k"]), str(msg["a"])
        except (ValueError, TypeError, KeyError):
            return  # not ours, or garbage on the channel
        cache = self._cache()
        if cache is None:
            self._closed.set()
            return
        self.received += 1
        rest = arg[len(self.namespace) :] if arg.startswith(self.namespace) else None
        if rest is None:
            return
        if kind == "key":
            key = _key_from(rest)
            if key is not _UNKNOWN and _reads_back(cache, key, arg):
                cache.drop_local(key)
            else:  # a key whose text does not read back: find it the slow way
                for k in list(cache.l1):
                    if cache.key_str(k) == arg:
                        cache.drop_local(k)
        elif kind == "prefix":
            if rest == "":
                cache.clear_local()
            else:
                cache.drop_local_prefix(rest[1:])  # drop the type mark ("s" or "r")
        elif kind == "tag":
            cache.drop_local_tag(rest)

    def close(self) -> None:
        self._closed.set()


_UNKNOWN: Any = object()


def _key_from(rest: str) -> Any:
    """The canonical key back from its L2 text (`caches.keys.text`): "s" + a string, or
    "r" + a text, which reads back as a literal for keys of str, bytes, numbers, None and
    tuples of them (other keys are `_UNKNOWN`, found by their text)."""
    if rest[:1] == "s":
        return rest[1:]
    try:
        return ast.literal_eval(rest[1:])
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return _UNKNOWN


def _reads_back(cache: LocalCopies, key: Any, arg: str) -> bool:
    """Whether `key` is the very key `arg` names: its canonical text is `arg` again."""
    try:
        return cache.key_str(key) == arg
    except (TypeError, ValueError):  # not a key at all (a literal list): UnkeyableError
        return False
