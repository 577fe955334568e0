"""Daily request quotas: the quota day, one counter interface, three stores and the start hook.

`create_counter` picks the store from UNILLM_COUNTER_BACKEND: "auto" uses Redis when UNILLM_REDIS_URL
is set (shared by every process and host), else the database (shared by every process on it). A
server that is the only process on a SQLite database ("auto", one worker) counts in memory and
persists the counts through the usage ledger (`ledger.py`): exact, and no write per request.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from unillm.access.quota.base import QuotaCounter
from unillm.access.quota.database import DatabaseCounter
from unillm.access.quota.memory import MemoryCounter
from unillm.config import Settings
from unillm.db.engine import is_sqlite
from unillm.errors import ConfigError
from unillm.runtime import Runtime

__all__ = ["DatabaseCounter", "MemoryCounter", "QuotaCounter", "create_counter", "start"]

COMPONENT = "quota"


def create_counter(settings: Settings, engine: AsyncEngine, *, serving: bool = False,
                   catching_up: Callable[[], bool] = lambda: False) -> QuotaCounter:
    """`serving`: for the gateway process itself (a CLI command reading a count never takes the lock)."""
    backend = settings.counter_backend
    if backend == "auto":
        backend = "redis" if settings.redis_url else "database"
        if backend == "database" and serving and settings.workers == 1 and is_sqlite(engine):
            from unillm.access.quota.ledger import LedgerCounter

            return LedgerCounter(engine, catching_up=catching_up)
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
    def catching_up() -> bool:
        usage = runtime.components.get("usage")
        return bool(usage is not None and usage.replaying)

    runtime.components[COMPONENT] = create_counter(runtime.settings, runtime.engine, serving=True,
                                                   catching_up=catching_up)
