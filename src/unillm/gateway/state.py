"""What the gateway holds in memory between requests: the pooled upstream HTTP client, the routing
table, provider credentials and prices, and the in-flight/cooldown state of every target.

Rebuilt when the config version changes (an admin change committed, here or in another process) and,
for server health written by the health checker, every `ROUTING_REFRESH_SECONDS` regardless.
Keys, users and access rules live in the auth snapshot (`runtime.components["snapshot"]`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from unillm.db.config_version import read_config_version
from unillm.deployment.routing import RouteTarget, RoutingTable, TargetPicker, load_routing_table
from unillm.gateway.upstream import UpstreamTarget
from unillm.gateway.upstream.h1 import UpstreamHttp
from unillm.provider.service import ProviderCredential, load_provider_credentials
from unillm.runtime import Runtime
from unillm.usage.pricing import Price
from unillm.usage.service import load_prices

logger = logging.getLogger("unillm.gateway")

ROUTING_REFRESH_SECONDS = 10.0


@dataclass(slots=True)
class GatewayTables:
    routing: RoutingTable
    credentials: dict[uuid.UUID, ProviderCredential]
    prices: dict[str, Price]
    config_version: int
    loaded_at: float = field(default_factory=time.monotonic)


class GatewayState:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.picker = TargetPicker()
        self.tables: GatewayTables | None = None
        self.http: UpstreamHttp | None = None
        self._refresher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.http = UpstreamHttp()
        await self.reload()
        interval = self.runtime.settings.snapshot_refresh_seconds
        if interval > 0:
            self._refresher = asyncio.create_task(self._refresh_loop(interval), name="gateway-refresh")

    async def reload(self) -> None:
        async with self.runtime.sessions() as session:
            version = await read_config_version(session=session)
            routing = await load_routing_table(session=session)
            credentials = await load_provider_credentials(session=session, settings=self.runtime.settings)
            prices = await load_prices(session=session)
        self.tables = GatewayTables(routing=routing, credentials=credentials, prices=prices,
                                    config_version=version)

    async def refresh_if_changed(self, *, max_age: float | None = None) -> bool:
        """Reload when the config version moved (or the tables are older than `max_age`)."""
        async with self.runtime.sessions() as session:
            version = await read_config_version(session=session)
        tables = self.tables
        stale = max_age is not None and (tables is None or time.monotonic() - tables.loaded_at > max_age)
        if tables is not None and version == tables.config_version and not stale:
            return False
        await self.reload()
        return True

    async def _refresh_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh_if_changed(max_age=ROUTING_REFRESH_SECONDS)
            except Exception:  # a database hiccup must not stop refreshing; the old tables stay in use
                logger.warning("gateway tables could not be refreshed; keeping the previous ones",
                               exc_info=True)

    def current(self) -> GatewayTables:
        if self.tables is None:
            raise RuntimeError("gateway state used before start()")
        return self.tables

    def upstream_target(self, target: RouteTarget) -> UpstreamTarget:
        """The call details for a route target, with its provider's credential and timeouts."""
        tables = self.current()
        credential = tables.credentials.get(target.provider_id) if target.provider_id else None
        if credential is None:
            return UpstreamTarget(upstream_type=target.upstream_type, base_url=target.base_url,
                                  api_key=None, upstream_model=target.upstream_model)
        return UpstreamTarget(upstream_type=target.upstream_type, base_url=target.base_url,
                              api_key=credential.api_key, upstream_model=target.upstream_model,
                              **credential.timeouts)

    def price_for(self, model_id: str) -> Price | None:
        return self.current().prices.get(model_id)

    async def aclose(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        if self.http is not None:
            await self.http.close()


async def start(runtime: Runtime) -> None:
    state = GatewayState(runtime)
    await state.start()
    runtime.components["gateway"] = state


def cost_of(price: Price | None, prompt_tokens: int, cached: int, completion: int) -> Decimal | None:
    from unillm.usage.pricing import cost_usd

    return cost_usd(price, prompt_tokens=prompt_tokens, cached_prompt_tokens=cached,
                    completion_tokens=completion)
