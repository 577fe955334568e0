"""`kill -9` of a serving `unillm serve` under load, then a restart: every 200 the client received
has exactly one usage row (the journal written before the response is replayed at start), and the
daily quota counts exactly what the ledger holds (on SQLite the counter lives in the process's memory
and is persisted through the ledger, so the crash must not lose or double a unit)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from tests.fakes import FakeOpenAI
from unillm.access.models import QuotaCounter
from unillm.db.engine import create_engine, create_session_factory
from unillm.usage.models import UsageLog

ADMIN_KEY = "ulm-kill9-admin-key-0123456789abcdefghijkl"
HELLO = [{"role": "user", "content": "hi"}]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "unillm.cli", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"unillm serve exited: {log.read_text()[-2000:]}")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    pytest.fail(f"unillm serve did not become ready: {log.read_text()[-2000:]}")


@pytest.mark.slow
async def test_every_200_has_exactly_one_usage_row_after_kill_9(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "UNILLM_DATABASE_URL": database_url,
        "UNILLM_ADMIN_KEY": ADMIN_KEY,
        "UNILLM_SECRET_KEY": Fernet.generate_key().decode(),
        "UNILLM_DATA_DIR": str(tmp_path / "data"),
        # "auto": in-memory counters persisted by the ledger on SQLite, the database on PostgreSQL.
        "UNILLM_COUNTER_BACKEND": "auto",
        "UNILLM_HEALTH_CHECK_INTERVAL_SECONDS": "0",
    }
    env.pop("UNILLM_REDIS_URL", None)
    received: list[str] = []
    async with FakeOpenAI() as fake:
        process = _serve(env, port, log)
        try:
            await _wait_ready(base_url, process, log)
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            async with httpx.AsyncClient(base_url=base_url, headers=admin, timeout=10) as client:
                assert (
                    await client.post(
                        "/api/v1/llm/providers",
                        json={"name": "fake", "type": "openai", "base_url": fake.base_url, "api_key": "sk-x"},
                    )
                ).is_success
                user_key = (
                    await client.post("/api/v1/keys", json={"user_id": "loader", "tier_code": "professional"})
                ).json()["key"]

            stop = asyncio.Event()

            async def load(client: httpx.AsyncClient) -> None:
                while not stop.is_set():
                    try:
                        response = await client.post(
                            "/v1/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO}
                        )
                    except httpx.TransportError:
                        return
                    if response.status_code == 200:
                        received.append(response.headers["x-request-id"])

            headers = {"Authorization": f"Bearer {user_key}"}
            async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as client:
                workers = [asyncio.create_task(load(client)) for _ in range(20)]
                while len(received) < 200:
                    await asyncio.sleep(0.05)
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                stop.set()
                await asyncio.gather(*workers)
            assert len(received) >= 200

            process = _serve(env, port, log)
            await _wait_ready(base_url, process, log)
            async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as client:
                after_restart = await client.post(
                    "/v1/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO})
            assert after_restart.status_code == 200
            received.append(after_restart.headers["x-request-id"])
            remaining_after_restart = int(after_restart.headers["x-ratelimit-remaining-requests-day"])
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            rows = dict(
                (
                    await session.execute(
                        select(UsageLog.request_id, func.count()).group_by(UsageLog.request_id)
                    )
                ).all()
            )
            successes = (await session.execute(
                select(func.count()).select_from(UsageLog).where(UsageLog.user_id == "loader",
                                                                 UsageLog.status == "success"))).scalar_one()
            counted = (await session.execute(
                select(func.sum(QuotaCounter.count)).where(QuotaCounter.user_id == "loader"))).scalar_one()
    finally:
        await engine.dispose()
    missing = [request_id for request_id in received if request_id not in rows]
    assert missing == [], f"{len(missing)} of {len(received)} acknowledged requests have no usage row"
    assert all(count == 1 for count in rows.values())
    # professional: 500 openai/gpt-4o requests a day.
    if database_url.startswith("sqlite"):
        assert counted == successes, "the in-memory counter lost or doubled units across kill -9"
        assert remaining_after_restart == 500 - successes
    else:  # the database counter also counts the requests that were in flight when the process died
        assert successes <= counted <= successes + 20
        assert remaining_after_restart == 500 - counted
