"""`RedisTier`: an L2 tier on a Redis server that processes on many hosts share.

Keys are `<prefix><key>`. Tags are Redis sets of keys, kept exact: each key also has a set of
its own tags, so a re-tag or a delete takes the key out of the tag sets it left (no
over-invalidation later), and a tag set expires with the longest-lived entry in it (no sets
of dead keys growing without bound). Each write and delete is one Lua script: atomic, and
one round trip.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from tui_perf.caches.l2 import Counters, Item
from tui_perf.caches.memory_tier import MISSING
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import TierStats

# KEYS: the entry, its own tag set. ARGV: member, value, ttl in ms ("" for none), the tag
# sets' prefix, then the tags.
_SET = """
local key, own = KEYS[1], KEYS[2]
local member, value, ttl, pre = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
for _, t in ipairs(redis.call('SMEMBERS', own)) do redis.call('SREM', pre .. t, member) end
redis.call('DEL', own)
if ttl == '' then redis.call('SET', key, value) else redis.call('SET', key, value, 'PX', ttl) end
for i = 5, #ARGV do
  local tk = pre .. ARGV[i]
  local existed = redis.call('EXISTS', tk)
  redis.call('SADD', tk, member)
  redis.call('SADD', own, ARGV[i])
  if ttl == '' then
    redis.call('PERSIST', tk)
  else
    local left = redis.call('PTTL', tk)
    if existed == 0 or (left >= 0 and left < tonumber(ttl)) then
      redis.call('PEXPIRE', tk, ttl)
    end
  end
end
if #ARGV >= 5 and ttl ~= '' then redis.call('PEXPIRE', own, ttl) end
return 1
"""

# KEYS: the entry, its own tag set. ARGV: member, the tag sets' prefix.
_DELETE = """
for _, t in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('SREM', ARGV[2] .. t, ARGV[1])
end
redis.call('DEL', KEYS[2])
return redis.call('DEL', KEYS[1])
"""

# KEYS: the tag set. ARGV: the key prefix, the own-tags prefix, the tag sets' prefix.
_DELETE_TAG = """
local n = 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local own = ARGV[2] .. member
  for _, t in ipairs(redis.call('SMEMBERS', own)) do
    redis.call('SREM', ARGV[3] .. t, member)
  end
  redis.call('DEL', own)
  n = n + redis.call('DEL', ARGV[1] .. member)
end
redis.call('DEL', KEYS[1])
return n
"""

# The generation record of a scope (see caches.generations), one hash. KEYS: the hash.
# ARGV: an incarnation for a new record, the caller's known incarnation and epoch, then the
# rules to bump (none: a read). Returns the fields as a flat list: "i" and "e" only when the
# caller's epoch is current, else all (a clear folds the older tag and prefix rules away).
_GENERATIONS = """
local h = KEYS[1]
if redis.call('HSETNX', h, 'i', ARGV[1]) == 1 then redis.call('HSET', h, 'e', 0) end
if #ARGV > 3 then
  local e = redis.call('HINCRBY', h, 'e', 1)
  for i = 4, #ARGV do
    if ARGV[i] == 'c' then
      for _, f in ipairs(redis.call('HKEYS', h)) do
        local c = string.sub(f, 1, 1)
        if c == 't' or c == 'p' then redis.call('HDEL', h, f) end
      end
    end
  end
  for i = 4, #ARGV do redis.call('HSET', h, ARGV[i], e) end
end
local inc = redis.call('HGET', h, 'i')
local e = redis.call('HGET', h, 'e')
if inc == ARGV[2] and tonumber(e) <= tonumber(ARGV[3]) then return {'i', inc, 'e', e} end
return redis.call('HGETALL', h)
"""


class RedisTier(Counters):
    """Keys `<prefix><key>` on a Redis server; tags as Redis sets. Needs the `redis` extra."""

    level = "L2"
    kind = "redis"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "tui-perf:",
        socket_timeout: float = 2.0,
    ) -> None:
        super().__init__()
        try:
            import redis
        except ImportError as exc:
            raise ConfigError(
                "RedisTier needs the redis package: pip install 'tui-perf[redis]'"
            ) from exc
        self.url = url
        self.prefix = prefix
        self._timeout = socket_timeout
        try:
            self._client = redis.Redis.from_url(
                url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
            )
        except ValueError as exc:  # redis-py's word on the URL, kept, with what to write
            raise ConfigError(
                f"bad Redis URL {url!r}: {exc}; write e.g. redis://127.0.0.1:6379/0"
            ) from None
        self._aclient: Any = None
        self._tag_prefix = f"{prefix}\x00tag:"
        self._own_prefix = f"{prefix}\x00tags-of:"
        self._set = self._client.register_script(_SET)
        self._delete = self._client.register_script(_DELETE)
        self._delete_tag = self._client.register_script(_DELETE_TAG)
        self._generations = self._client.register_script(_GENERATIONS)
        # No TTL on it: under a volatile-* eviction policy Redis never evicts it.
        self._gen_prefix = f"{prefix}\x00gen:"
        self._aset: Any = None
        self._agenerations: Any = None

    def _k(self, key: str) -> str:
        return self.prefix + key

    def _tag(self, tag: str) -> str:
        return self._tag_prefix + tag

    def _own(self, key: str) -> str:
        return self._own_prefix + key

    def _read(self, value: Any) -> Any:
        if value is None:
            self.misses += 1
            return MISSING
        self.hits += 1
        return value

    def get(self, key: str) -> Any:
        return self._read(self._client.get(self._k(key)))

    def _set_args(self, item: Item) -> tuple[list[str], list[Any]]:
        key, value, ttl, tags = item
        ms = "" if ttl is None else str(max(1, int(ttl * 1000)))
        return [self._k(key), self._own(key)], [key, value, ms, self._tag_prefix, *tags]

    def set_many(self, items: Iterable[Item]) -> None:
        pipe = self._client.pipeline(transaction=False)
        n = 0
        for item in items:
            keys, args = self._set_args(item)
            self._set(keys=keys, args=args, client=pipe)
            n += 1
        pipe.execute()
        self.sets += n

    def set(
        self, key: str, value: bytes, ttl: float | None = None, tags: Sequence[str] = ()
    ) -> None:
        self.set_many([(key, value, ttl, tags)])

    def delete(self, key: str) -> bool:
        return bool(self._delete(keys=[self._k(key), self._own(key)], args=[key, self._tag_prefix]))

    def delete_prefix(self, prefix: str) -> int:
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self._k(prefix)) + "*"
        n = 0
        cut = len(self.prefix)
        batch: list[str] = []
        for name in self._client.scan_iter(match=pattern, count=500):
            batch.append(name.decode() if isinstance(name, bytes) else str(name))
            if len(batch) >= 500:
                n += self._delete_batch(batch, cut)
                batch = []
        if batch:
            n += self._delete_batch(batch, cut)
        return n

    def _delete_batch(self, names: list[str], cut: int) -> int:
        pipe = self._client.pipeline(transaction=False)
        for name in names:
            key = name[cut:]
            self._delete(keys=[name, self._own(key)], args=[key, self._tag_prefix], client=pipe)
        return sum(int(x) for x in pipe.execute())

    def delete_tag(self, tag: str) -> int:
        return int(
            self._delete_tag(
                keys=[self._tag(tag)], args=[self.prefix, self._own_prefix, self._tag_prefix]
            )
        )

    def clear(self) -> int:
        return self.delete_prefix("")

    def publish(self, channel: str, message: str) -> int:
        """Publish on `channel` (coherence's messages); how many subscribers received it."""
        return int(self._client.publish(channel, message))

    # -- generations (see caches.generations) -------------------------------------------

    def generations(self, scope: str, known: tuple[int, int]) -> dict[str, int]:
        """`scope`'s incarnation ("i"), epoch ("e"), and its rules unless `known` is
        current; the record is made on first use."""
        return self.bump_generations(scope, [], known)

    def bump_generations(
        self, scope: str, rules: list[str], known: tuple[int, int]
    ) -> dict[str, int]:
        """Raise `scope`'s epoch by one and set each of `rules` to it, atomically (one
        script); returns as `generations`."""
        flat = self._generations(
            keys=[self._gen_prefix + scope],
            args=[secrets.randbits(62) + 1, known[0], known[1], *rules],
        )
        return _record(flat)

    async def agenerations(self, scope: str, known: tuple[int, int]) -> dict[str, int]:
        await self._aconn()
        flat = await self._agenerations(
            keys=[self._gen_prefix + scope],
            args=[secrets.randbits(62) + 1, known[0], known[1]],
        )
        return _record(flat)

    def stats(self) -> TierStats:
        return TierStats(
            self.level,
            self.kind,
            hits=self.hits,
            misses=self.misses,
            sets=self.sets,
            expirations=self.expirations,
        )

    def close(self) -> None:
        self._client.close()

    async def _aconn(self) -> Any:
        if self._aclient is None:
            import redis.asyncio

            self._aclient = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout
            )
            self._aset = self._aclient.register_script(_SET)
            self._agenerations = self._aclient.register_script(_GENERATIONS)
        return self._aclient

    async def aget(self, key: str) -> Any:
        client = await self._aconn()
        return self._read(await client.get(self._k(key)))

    async def aset_many(self, items: Iterable[Item]) -> None:
        client = await self._aconn()
        pipe = client.pipeline(transaction=False)
        n = 0
        for item in items:
            keys, args = self._set_args(item)
            await self._aset(keys=keys, args=args, client=pipe)
            n += 1
        await pipe.execute()
        self.sets += n

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None


def _record(flat: list[Any]) -> dict[str, int]:
    """A generation record from the script's flat list of fields and values."""
    names = [f.decode() if isinstance(f, bytes) else str(f) for f in flat[0::2]]
    return {n: int(v) for n, v in zip(names, flat[1::2], strict=True)}
