"""Quota counters in Redis: shared by every gateway process and host pointed at the same Redis.

One Lua script per operation makes check-and-increment atomic. The key is
`<UNILLM_REDIS_KEY_PREFIX>quota:<day>:<rule_key>:<user_id>`; it gets an expiry of about two days when
it is created, so old days clean themselves up without a sweeper.

Every gateway request runs `reserve`, so the counters talk to Redis through `resp.py`, a small
pipelined client on one connection, rather than redis-py (whose general-purpose call path cost about
a tenth of a gateway process's CPU). Any failure of the store becomes `CounterStoreUnavailable`.
"""

from __future__ import annotations

from datetime import date

from unillm.access.quota.base import COUNTER_TTL_SECONDS
from unillm.access.quota.resp import RedisAddress, Reply, RespClient, RespError, Script
from unillm.errors import ConfigError, CounterStoreUnavailable

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

RESERVE_SCRIPT = Script.of(_RESERVE)
RELEASE_SCRIPT = Script.of(_RELEASE)

# Connect, and wait for any one reply, at most this long.
SOCKET_TIMEOUT_SECONDS = 2.0


def _integer(reply: Reply) -> int:
    if not isinstance(reply, int):
        raise RespError(f"unexpected reply from the counter script: {type(reply).__name__}")
    return reply


class RedisCounter:
    persists_through_ledger = False

    def __init__(self, url: str, *, key_prefix: str, ttl_seconds: int = COUNTER_TTL_SECONDS) -> None:
        try:
            address = RedisAddress.from_url(url)
        except ValueError as exc:
            raise ConfigError(f"UNILLM_REDIS_URL cannot be used: {exc}") from None
        self._where = address.where
        self._prefix = key_prefix
        self._ttl = ttl_seconds
        self._client = RespClient(address, timeout=SOCKET_TIMEOUT_SECONDS)

    def key(self, *, user_id: str, rule_key: str, day: date) -> str:
        return f"{self._prefix}quota:{day.isoformat()}:{rule_key}:{user_id}"

    def _unavailable(self, exc: BaseException) -> CounterStoreUnavailable:
        return CounterStoreUnavailable(
            f"the quota counter store (Redis at {self._where}) is unavailable: {exc or type(exc).__name__}")

    async def reserve(self, *, user_id: str, rule_key: str, day: date, limit: int) -> int | None:
        if limit <= 0:
            return None
        try:
            result = await self._client.evalsha(
                RESERVE_SCRIPT, [self.key(user_id=user_id, rule_key=rule_key, day=day)], [limit, self._ttl])
            remaining = _integer(result)
        except (RespError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return None if remaining < 0 else remaining

    async def release(self, *, user_id: str, rule_key: str, day: date) -> None:
        try:
            await self._client.evalsha(
                RELEASE_SCRIPT, [self.key(user_id=user_id, rule_key=rule_key, day=day)], [])
        except (RespError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def used(self, *, user_id: str, rule_key: str, day: date) -> int:
        try:
            value = await self._client.get(self.key(user_id=user_id, rule_key=rule_key, day=day))
        except (RespError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return int(value or 0)

    async def aclose(self) -> None:
        await self._client.aclose()
