"""`RedisTier`: an L2 tier on a Redis server that processes on many hosts share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from tui_perf.caches.l2 import Counters, Item
from tui_perf.caches.memory_tier import MISSING
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import TierStats


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
        self._client = redis.Redis.from_url(url, socket_timeout=socket_timeout)
        self._aclient: Any = None

    def _k(self, key: str) -> str:
        return self.prefix + key

    def _tag(self, tag: str) -> str:
        return f"{self.prefix}\x00tag:{tag}"

    def _read(self, value: Any) -> Any:
        if value is None:
            self.misses += 1
            return MISSING
        self.hits += 1
        return value

    def get(self, key: str) -> Any:
        return self._read(self._client.get(self._k(key)))

    def set_many(self, items: Iterable[Item]) -> None:
        pipe = self._client.pipeline(transaction=False)
        n = self._queue_sets(pipe, items)
        pipe.execute()
        self.sets += n

    def _queue_sets(self, pipe: Any, items: Iterable[Item]) -> int:
        """Queue each item's SET (with its expiry) and tag memberships; sync and async alike."""
        n = 0
        for key, value, ttl, tags in items:
            pipe.set(self._k(key), value, px=int(ttl * 1000) if ttl is not None else None)
            for tag in tags:
                pipe.sadd(self._tag(tag), key)
            n += 1
        return n

    def set(
        self, key: str, value: bytes, ttl: float | None = None, tags: Sequence[str] = ()
    ) -> None:
        self.set_many([(key, value, ttl, tags)])

    def delete(self, key: str) -> bool:
        return bool(self._client.delete(self._k(key)))

    def delete_prefix(self, prefix: str) -> int:
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self._k(prefix)) + "*"
        n = 0
        batch: list[bytes] = []
        for name in self._client.scan_iter(match=pattern, count=500):
            batch.append(name)
            if len(batch) >= 500:
                n += self._client.delete(*batch)
                batch = []
        if batch:
            n += self._client.delete(*batch)
        return n

    def delete_tag(self, tag: str) -> int:
        keys = [
            m.decode() if isinstance(m, bytes) else str(m)
            for m in self._client.smembers(self._tag(tag))
        ]
        n = self._client.delete(*[self._k(k) for k in keys]) if keys else 0
        self._client.delete(self._tag(tag))
        return int(n)

    def clear(self) -> int:
        return self.delete_prefix("")

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

            self._aclient = redis.asyncio.Redis.from_url(self.url, socket_timeout=self._timeout)
        return self._aclient

    async def aget(self, key: str) -> Any:
        client = await self._aconn()
        return self._read(await client.get(self._k(key)))

    async def aset_many(self, items: Iterable[Item]) -> None:
        client = await self._aconn()
        pipe = client.pipeline(transaction=False)
        n = self._queue_sets(pipe, items)
        await pipe.execute()
        self.sets += n

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
