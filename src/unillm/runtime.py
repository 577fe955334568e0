"""What a running process owns: settings, the database engine and sessions, and the components that
later stages add (the hot-path snapshot, quota counters, the usage writer, the upstream HTTP client).

One `Runtime` per app (created in the lifespan) or per CLI command; never module-level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from unillm.config import Settings
from unillm.db.engine import create_engine, create_session_factory


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # Components registered by domains at start-up, keyed by name, closed in reverse order.
    components: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        engine = create_engine(settings.database_url)
        return cls(settings=settings, engine=engine, sessions=create_session_factory(engine))

    async def close(self) -> None:
        for component in reversed(list(self.components.values())):
            closer = getattr(component, "aclose", None)
            if closer is not None:
                await closer()
        self.components.clear()
        await self.engine.dispose()
