"""Quota counters in Redis: shared by every gateway process and host pointed at the same Redis.

One Lua script per operation makes check-and-increment atomic. The key is
`<UNILLM_REDIS_KEY_PREFIX>quota:<day>:<rule_key>:<user_id>`; it gets an expiry of about two days when
it is created, so old days clean themselves up without a sweeper.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from unillm.access.quota.base import COUNTER_TTL_SECONDS
from unillm.errors import CounterStoreUnavailable

# KEYS[1] counter; ARGV[1] limit, ARGV[2] ttl. Returns remaining after the increment, or -1 when full.
_RESERVE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local limit = tonumber(ARGV[1])
if used >= limit then return -1 end
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return limit - count
"""

_RELEASE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""

SOCKET_TIMEOUT_SECONDS = 2.0


def _where(url: str) -> str:
    """host:port/db of the URL, never its password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or ''}"


class RedisCounter:
    def __init__(self, url: str, *, key_prefix: str, ttl_seconds: int = COUNTER_TTL_SECONDS) -> None:
        self._where = _where(url)
        self._prefix = key_prefix
        self._ttl = ttl_seconds
        self._client: Any = aioredis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_connect_timeout=SOCKET_TIMEOUT_SECONDS)
        self._reserve = self._client.register_script(_RESERVE)
        self._release = self._client.register_script(_RELEASE)

    def key(self, *, user_id: str, rule_key: str, day: date) -> str:
        return f"{self._prefix}quota:{day.isoformat()}:{rule_key}:{user_id}"

    def _unavailable(self, exc: BaseException) -> CounterStoreUnavailable:
        return CounterStoreUnavailable(
            f"the quota counter store (Redis at {self._where}) is unavailable: {exc or type(exc).__name__}")

    async def reserve(self, *, user_id: str, rule_key: str, day: date, limit: int) -> int | None:
        if limit <= 0:
            return None
        try:
            result = await self._reserve(keys=[self.key(user_id=user_id, rule_key=rule_key, day=day)],
                                         args=[limit, self._ttl])
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        remaining = int(result)
        return None if remaining < 0 else remaining

    async def release(self, *, user_id: str, rule_key: str, day: date) -> None:
        try:
            await self._release(keys=[self.key(user_id=user_id, rule_key=rule_key, day=day)])
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def used(self, *, user_id: str, rule_key: str, day: date) -> int:
        try:
            value = await self._client.get(self.key(user_id=user_id, rule_key=rule_key, day=day))
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return int(value or 0)

    async def aclose(self) -> None:
        await self._client.aclose()
