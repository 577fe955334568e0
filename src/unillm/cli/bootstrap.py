"""First-start checks for `serve`: an admin key exists, and the worker count suits the counters."""

from __future__ import annotations

from unillm.cli.common import fail, run_async
from unillm.config import Settings
from unillm.runtime import Runtime


def ensure_admin_key(settings: Settings) -> str | None:
    """Register UNILLM_ADMIN_KEY when set; otherwise create an admin key if none exists.

    Returns the new secret when one was created (to print once), else None.
    """
    from unillm.auth import service as auth_service

    async def _ensure(runtime: Runtime) -> str | None:
        async with runtime.sessions.begin() as session:
            return await auth_service.ensure_bootstrap_admin(session=session, admin_key=settings.admin_key)

    return run_async(_ensure, settings)


def check_worker_settings(settings: Settings, workers: int) -> None:
    if workers > 1 and settings.counter_backend == "memory":
        fail("--workers > 1 needs quota counters shared by every worker, but UNILLM_COUNTER_BACKEND=memory "
             "keeps them in one process. Use UNILLM_COUNTER_BACKEND=database (the default) or set "
             "UNILLM_REDIS_URL.")
