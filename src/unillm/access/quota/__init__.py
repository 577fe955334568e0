"""Daily request quotas: the quota day, one counter interface, three stores and the start hook.

`create_counter` picks the store from UNILLM_COUNTER_BACKEND: "auto" uses Redis when UNILLM_REDIS_URL
is set (shared by every process and host), else the database (shared by every process on it).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from unillm.access.quota.base import QuotaCounter
from unillm.access.quota.database import DatabaseCounter
from unillm.access.quota.memory import MemoryCounter
from unillm.config import Settings
from unillm.errors import ConfigError
from unillm.runtime import Runtime

__all__ = ["DatabaseCounter", "MemoryCounter", "QuotaCounter", "create_counter", "start"]

COMPONENT = "quota"


def create_counter(settings: Settings, engine: AsyncEngine) -> QuotaCounter:
    backend = settings.counter_backend
    if backend == "auto":
        backend = "redis" if settings.redis_url else "database"
    if backend == "memory":
        return MemoryCounter()
    if backend == "database":
        return DatabaseCounter(engine)
    if not settings.redis_url:
        raise ConfigError("UNILLM_COUNTER_BACKEND=redis needs UNILLM_REDIS_URL (for example "
                          "redis://127.0.0.1:6379/0)")
    from unillm.access.quota.redis import RedisCounter

    return RedisCounter(settings.redis_url, key_prefix=settings.redis_key_prefix)


async def start(runtime: Runtime) -> None:
    """Start hook: puts the counter in `runtime.components["quota"]` (closed with the runtime)."""
    runtime.components[COMPONENT] = create_counter(runtime.settings, runtime.engine)
