"""Coherence over a shared Redis tier: invalidations reach every process's L1, or L1 goes.

With `MultiLevelCache(..., l2=RedisTier(...), coherence=True)` every delete, tag and prefix
invalidation and clear is published on a Redis channel, and every cache of the same
namespace in every subscribed process drops its L1 copies. A daemon thread listens; a
message from this very cache is ignored.

Pub/sub delivers a message only to a connection subscribed at that moment, and redis-py
reconnects and resubscribes by itself. So delivery is never trusted; every gap in it drops
the whole L1 of the cache (a miss is always safe, a stale copy is not):

- the server confirms a subscription (the first, and every one after a reconnect, ours or
  redis-py's): L1 is dropped then, so whatever was missed before it is gone, and every
  message after it arrives;
- the link fails (the server stopped, the connection reset) or goes silent (no answer to
  the PING sent every `heartbeat` for two of them: a half-open socket, a stalled server):
  L1 is dropped at once, and again at every reconnect attempt (every `retry`) while down;
- a publish reached no one, not even this process's own listener: the listener takes its
  link for broken and reconnects;
- the listener thread ends other than by `close()`: L1 is dropped and a new one started.

Every drop is made again `max_stale / 4` later: a get that read the old row from L2 just
before the delete can store it in L1 just after the first drop.

The bound (`Coherence.max_stale`, 2 s unless given): once an invalidation has returned
having reached Redis, no process serves the old value more than `max_stale` later, across a
Redis restart with or without its data. Each path above drops L1 within `max_stale / 2`
(plus a poll); the rest is margin for scheduling. A publish that fails (Redis unreachable)
is owed: when this listener is subscribed again, the deletion is applied to Redis again (a
delete is always safe for a cache) and published again, so it too reaches the others within
the bound of Redis being back. While this process cannot reach Redis, its L1 holds nothing
older than the bound.

The publisher counts the truth: `sent` (reached as many listeners as the previous publish),
`short` (fewer: one left or lost its link; it drops its L1 when it notices), `unheard`
(none), `failed` (an error; owed).
"""

from __future__ import annotations

import ast
import json
import logging
import secrets
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from tui_perf.model.errors import ConfigError

log = logging.getLogger(__name__)

CHANNEL = "tui-perf:invalidate"

#: deletions owed while Redis was unreachable; past this, the whole namespace is owed
MAX_OWED = 1000


@dataclass(frozen=True, slots=True)
class Coherence:
    """The staleness bound, and the intervals the listener derives from it."""

    max_stale: float = 2.0

    def __post_init__(self) -> None:
        if not 0.2 <= self.max_stale <= 3600:
            raise ConfigError("Coherence(max_stale=...) must be between 0.2 and 3600 seconds")

    @property
    def heartbeat(self) -> float:
        """A PING this often; a link silent for two of them is taken for broken."""
        return self.max_stale / 4

    @property
    def retry(self) -> float:
        """The wait between reconnect attempts while down (each also drops L1)."""
        return self.max_stale / 4

    @property
    def settle(self) -> float:
        """How long after a drop it is made again (a read of L2 that raced it has landed)."""
        return self.max_stale / 4

    @property
    def poll(self) -> float:
        """The longest a read waits, so a failure or a close is seen this soon."""
        return min(0.1, self.heartbeat / 2)


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


class _LinkLost(Exception):
    """The subscription can no longer be trusted to have delivered everything."""


class RedisCoherence:
    """Publishes this cache's invalidations and applies other processes' to its L1."""

    def __init__(self, cache: LocalCopies, tier: Any, settings: Coherence | bool = True) -> None:
        if getattr(tier, "kind", "") != "redis" or not hasattr(tier, "publish"):
            raise ConfigError("coherence=True needs a RedisTier as L2")
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.settings = settings if isinstance(settings, Coherence) else Coherence()
        self._tier = tier
        # The listener's own client: no retries of its own (a failure must reach the loop
        # here, which drops L1; redis-py's silent reconnect would hide the gap), and
        # timeouts from the bound, not the tier's.
        beat = self.settings.heartbeat
        self._listener = redis.Redis.from_url(
            tier.url, socket_timeout=beat, socket_connect_timeout=beat, retry=Retry(NoBackoff(), 0)
        )
        self.channel = tier.prefix + CHANNEL
        self.namespace = cache.namespace
        self.origin = secrets.token_hex(8)
        self.sent = self.short = self.unheard = self.failed = 0
        self.received = self.gaps = self.subscribes = self.restarts = self.errors = 0
        self.link = "connecting"
        self.reason = ""
        self._expected = 1  # this process's own listener, at least
        self._owed: dict[tuple[str, str], None] = {}
        self._owed_lock = threading.Lock()
        self._again: deque[tuple[float, str, str]] = deque()
        self._closed = threading.Event()
        self._ready = threading.Event()
        self._suspect = threading.Event()
        self._cache = weakref.ref(cache)
        self._name = f"tui-perf-coherence-{cache.name}"
        self._start()
        self._ready.wait(2.0)  # subscribed before the first publish, when the server is up

    def _start(self) -> None:
        threading.Thread(target=self._run, name=self._name, daemon=True).start()

    # -- publishing --------------------------------------------------------------------

    def publish(self, kind: str, arg: str) -> None:
        message = json.dumps({"o": self.origin, "n": self.namespace, "k": kind, "a": arg})
        try:
            receivers = int(self._tier.publish(self.channel, message))
        except Exception:  # an outage: the breaker reports the tier; this owes the message
            self.failed += 1
            self._owe(kind, arg)
            return
        if receivers == 0:  # not even our own listener: its link is not what it thinks
            self.unheard += 1
            self._suspect.set()
        elif receivers < self._expected:
            self.short += 1
        else:
            self.sent += 1
        self._expected = max(receivers, 1)

    def _owe(self, kind: str, arg: str) -> None:
        with self._owed_lock:
            if len(self._owed) >= MAX_OWED:  # too many to keep: the whole namespace instead
                self._owed.clear()
                kind, arg = "prefix", self.namespace
            self._owed[(kind, arg)] = None

    def _pay_owed(self) -> None:
        """Apply the deletions a publish failed for to Redis again, and publish them."""
        with self._owed_lock:
            owed = list(self._owed)
            self._owed.clear()
        apply: dict[str, Callable[[str], object]] = {
            "set": _nothing,  # an overwrite owes only its message, never a delete
            "key": self._tier.delete,
            "prefix": self._tier.delete_prefix,
            "tag": self._tier.delete_tag,
        }
        for n, (kind, arg) in enumerate(owed):
            try:
                apply[kind](arg)
            except Exception:
                for rest in owed[n:]:
                    self._owe(*rest)
                return
            self.publish(kind, arg)

    # -- listening ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._listen()
        finally:
            # Ended other than by close() (only a BaseException gets here): nothing would
            # drop L1 any more, so drop it now and listen again.
            if not self._closed.is_set():
                self._gap("the listener thread ended")
                self.restarts += 1
                self._start()

    def _listen(self) -> None:
        while not self._closed.is_set():
            pubsub = self._listener.pubsub()
            try:
                self._session(pubsub)
            except Exception as exc:
                self.errors += 1
                self.reason = f"{type(exc).__name__}: {exc}"[:300]
            finally:
                try:
                    pubsub.close()
                except Exception:
                    self.errors += 1
            if self._closed.is_set():
                return
            self.link = "down"
            self._ready.set()
            self._gap("link down")  # at once, and at every attempt while down
            self._closed.wait(self.settings.retry)
            self._drop_again()

    def _session(self, pubsub: Any) -> None:
        s = self.settings
        pubsub.subscribe(self.channel)
        heard = pinged = time.monotonic()
        while not self._closed.is_set():
            message = pubsub.get_message(timeout=s.poll)
            now = time.monotonic()
            if self._cache() is None:  # collected without close(): nothing left to keep
                self._closed.set()
                return
            if message is not None:
                heard = now
                if message["type"] == "subscribe":  # first, or after any reconnect
                    self._gap("subscribed")
                    self.subscribes += 1
                    self.link = "up"
                    self._suspect.clear()
                    self._ready.set()
                    if self._owed:
                        self._pay_owed()
                elif message["type"] == "message":
                    self._apply(message.get("data"))
            self._drop_again()
            if self._suspect.is_set():
                self._suspect.clear()
                raise _LinkLost("a publish reached no listener, not even this one")
            if now - heard > 2 * s.heartbeat:
                raise _LinkLost(f"nothing heard for {now - heard:.2f} s")
            if now - pinged >= s.heartbeat:
                pubsub.ping()
                pinged = now

    def _gap(self, why: str) -> None:
        """Delivery may have missed something: drop the whole L1 of this cache."""
        if self._drop("gap", ""):
            self.gaps += 1
            log.debug("cache %s: L1 dropped (%s)", self._name, why)

    def _apply(self, data: Any) -> None:
        try:
            msg = json.loads(data)
            if msg.get("o") == self.origin or msg.get("n") != self.namespace:
                return
            kind, arg = str(msg["k"]), str(msg["a"])
        except (ValueError, TypeError, KeyError):
            return  # not ours, or garbage on the channel
        if self._drop(kind, arg):
            self.received += 1

    def _drop(self, kind: str, arg: str, *, again: bool = True) -> bool:
        """Drop what a message or a gap names from L1; False once the cache is gone.

        A read of L2 that began before the invalidation may put the old value in L1 just
        after this drop (its reply was on the wire first, its thread had no GIL). So each
        drop is made once more `settle` later, when such a read has long landed.
        """
        cache = self._cache()
        if cache is None:
            self._closed.set()
            return False
        rest = arg[len(self.namespace) :] if arg.startswith(self.namespace) else None
        if kind == "gap" or rest is None or (rest == "" and kind == "prefix"):
            cache.clear_local()  # a gap, the whole namespace, or not understood: all of it
        elif kind in ("key", "set"):  # deleted, or overwritten by another process
            drop_key(cache, arg, rest)
        elif kind == "prefix":
            cache.drop_local_prefix(rest[1:])  # drop the type mark ("s" or "r")
        elif kind == "tag":
            cache.drop_local_tag(rest)
        else:
            cache.clear_local()
        if again:
            self._again.append((time.monotonic() + self.settings.settle, kind, arg))
        return True

    def _drop_again(self) -> None:
        now = time.monotonic()
        while self._again and self._again[0][0] <= now:
            _, kind, arg = self._again.popleft()
            self._drop(kind, arg, again=False)

    def counts(self) -> dict[str, Any]:
        """What the publisher and the listener did, for tests and diagnostics."""
        names = "sent short unheard failed received gaps subscribes restarts errors"
        out: dict[str, Any] = {n: getattr(self, n) for n in names.split()}
        out["owed"] = len(self._owed)
        out["link"] = self.link
        return out

    def close(self) -> None:
        self._closed.set()
        try:
            self._listener.close()
        except Exception:
            self.errors += 1


_UNKNOWN: Any = object()


def _nothing(arg: str) -> None:
    return None


def drop_key(cache: LocalCopies, arg: str, rest: str) -> None:
    """Drop the L1 key whose L2 form is `arg` (`rest` without the namespace)."""
    key = _key_from(rest)
    if key is not _UNKNOWN and _reads_back(cache, key, arg):
        cache.drop_local(key)
    else:  # a key whose text does not read back: find it the slow way
        for k in list(cache.l1):
            if cache.key_str(k) == arg:
                cache.drop_local(k)


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
