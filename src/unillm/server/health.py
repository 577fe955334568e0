"""The background health checker: probes every enabled server each interval and publishes its status
with hysteresis, so a flapping server does not flap the routing table.

A status moves only after `threshold` consecutive probes agree on the new status (2 failures to go
unhealthy, 2 successes to recover); a server never checked (`unknown`) takes the first result at once.
After each round the deployment reconciler runs, so deployments follow what the servers really hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass

from unillm.runtime import Runtime
from unillm.server import service as server_service

logger = logging.getLogger("unillm.server.health")

DEFAULT_THRESHOLD = 2


@dataclass(frozen=True, slots=True)
class Streak:
    """The candidate status the recent probes agree on, and how many in a row did."""

    candidate: str
    count: int


def decide(
    current: str, streak: Streak | None, observed: str, *, threshold: int = DEFAULT_THRESHOLD
) -> tuple[str, Streak | None]:
    """Pure: the status to publish after one more probe, and the streak to remember."""
    if current == "unknown" or observed == current:
        return observed, None
    count = streak.count + 1 if streak is not None and streak.candidate == observed else 1
    if count >= threshold:
        return observed, None
    return current, Streak(observed, count)


class HealthMonitor:
    """Runs health rounds (and deployment reconciliation) every `interval` seconds."""

    def __init__(self, runtime: Runtime, *, interval: float, threshold: int = DEFAULT_THRESHOLD) -> None:
        self.runtime = runtime
        self.interval = interval
        self.threshold = threshold
        self.streaks: dict[uuid.UUID, Streak] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="server-health")

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # one bad round (database hiccup) must not end the checker
                logger.warning("health round failed; retrying next interval", exc_info=True)
            await asyncio.sleep(self.interval)

    async def run_once(self) -> dict[uuid.UUID, str]:
        """One round: probe every enabled server, publish with hysteresis, then reconcile deployments."""
        http = server_service.http_client(self.runtime)
        async with self.runtime.sessions() as session:
            servers = await server_service.list_all(session=session, enabled_only=True)
            results = await asyncio.gather(*(server_service.adapter(s, http).health() for s in servers))
        published: dict[uuid.UUID, str] = {}
        async with self.runtime.sessions() as session, session.begin():
            for server, result in zip(servers, results, strict=True):
                fresh = await session.get(type(server), server.id)
                if fresh is None:
                    continue
                status, streak = decide(
                    fresh.health_status, self.streaks.get(server.id), result.status, threshold=self.threshold
                )
                if streak is None:
                    self.streaks.pop(server.id, None)
                else:
                    self.streaks[server.id] = streak
                await server_service.record_health(
                    session=session, server=fresh, result=result, status=status
                )
                published[server.id] = status
        from unillm.deployment.reconcile import reconcile_all

        await reconcile_all(runtime=self.runtime)
        return published

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


async def start(runtime: Runtime) -> None:
    """Start hook: registers the monitor; interval 0 (tests, one-shot tools) leaves it idle."""
    monitor = HealthMonitor(runtime, interval=runtime.settings.health_check_interval_seconds)
    runtime.components["server_health"] = monitor
    monitor.start()
