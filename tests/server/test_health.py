"""Hysteresis: a status moves only after consecutive agreeing probes; the monitor writes it."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.fakes import FakeOllama
from tests.server.conftest import CONTEXT, Api
from unillm.runtime import Runtime
from unillm.server import service as server_service
from unillm.server.health import HealthMonitor, Streak, decide
from unillm.server.schemas import ModelServerCreate


def test_unknown_takes_the_first_result() -> None:
    assert decide("unknown", None, "unhealthy") == ("unhealthy", None)


def test_one_failure_does_not_flip_two_do() -> None:
    status, streak = decide("healthy", None, "unhealthy")
    assert (status, streak) == ("healthy", Streak("unhealthy", 1))
    assert decide(status, streak, "unhealthy") == ("unhealthy", None)


def test_flapping_never_moves() -> None:
    status, streak = "healthy", None
    for observed in ["unhealthy", "healthy", "unhealthy", "healthy", "unhealthy"]:
        status, streak = decide(status, streak, observed)
        assert status == "healthy"


def test_a_different_bad_result_restarts_the_streak() -> None:
    status, streak = decide("healthy", None, "degraded")
    status, streak = decide(status, streak, "unhealthy")
    assert (status, streak) == ("healthy", Streak("unhealthy", 1))


async def test_monitor_applies_hysteresis_and_recovers(runtime: Runtime, http: aiohttp.ClientSession,
                                                       ollama: FakeOllama) -> None:
    runtime.components["http"] = http
    async with runtime.sessions() as session, session.begin():
        server = await server_service.create(session=session, context=CONTEXT, data=ModelServerCreate(
            name="gpu1", type="ollama", host=ollama.host, port=ollama.port))
    monitor = HealthMonitor(runtime, interval=0)
    seen = []
    await ollama.stop()
    ollama_down = [(await monitor.run_once())[server.id] for _ in range(1)]
    seen += ollama_down  # unknown -> unhealthy at once
    await ollama.start()
    seen.append((await monitor.run_once())[server.id])  # one success: still unhealthy
    seen.append((await monitor.run_once())[server.id])  # second success: healthy
    await ollama.stop()
    seen.append((await monitor.run_once())[server.id])  # one failure: still healthy
    await ollama.start()
    seen.append((await monitor.run_once())[server.id])
    assert seen == ["unhealthy", "unhealthy", "healthy", "healthy", "healthy"]
    async with runtime.sessions() as session:
        stored = await server_service.get_or_raise(session=session, server_id=server.id)
    assert stored.health_status == "healthy" and stored.health_error is None
    assert stored.last_health_check is not None and stored.health_latency_ms is not None
    del runtime.components["http"]


async def test_background_monitor_probes_until_closed(runtime: Runtime, http: aiohttp.ClientSession,
                                                      ollama: FakeOllama) -> None:
    runtime.components["http"] = http
    async with runtime.sessions() as session, session.begin():
        await server_service.create(session=session, context=CONTEXT, data=ModelServerCreate(
            name="gpu1", type="ollama", host=ollama.host, port=ollama.port))
    monitor = HealthMonitor(runtime, interval=0.01)
    monitor.start()

    async def probed_twice() -> None:
        while ollama.paths().count("/api/version") < 2:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(probed_twice(), timeout=10)
    await monitor.aclose()
    probes = ollama.paths().count("/api/version")
    await asyncio.sleep(0.05)
    assert ollama.paths().count("/api/version") == probes  # nothing runs after aclose
    del runtime.components["http"]


async def test_app_start_hook_registers_an_idle_monitor(api: Api) -> None:
    monitor = api.runtime.components["server_health"]
    assert isinstance(monitor, HealthMonitor) and monitor.interval == 0
