"""`unillm serve` as a user runs it: the first-start admin key, refusing a worker count the counters
cannot support, and two workers sharing one daily quota exactly (database and Redis counters)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.fakes import FakeOpenAI
from tests.gateway.test_kill9_e2e import _free_port

ADMIN_KEY = "ulm-serve-test-admin-0123456789abcdefghij"


def _env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNILLM_")}
    env.update(
        {
            "UNILLM_DATABASE_URL": database_url,
            "UNILLM_DATA_DIR": str(tmp_path / "data"),
            "UNILLM_SECRET_KEY": Fernet.generate_key().decode(),
            "UNILLM_HEALTH_CHECK_INTERVAL_SECONDS": "0",
        }
    )
    env.update(extra)
    return env


def _unillm(*args: str) -> list[str]:
    return [sys.executable, "-m", "unillm.cli", *args]


async def _wait_ready(base_url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read() if process.stdout else "exited"
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    pytest.fail("unillm serve did not become ready")


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    return output


def test_workers_without_a_shared_counter_store_refuse_to_start(tmp_path: Path) -> None:
    env = _env(f"sqlite:///{tmp_path / 'u.db'}", tmp_path, UNILLM_COUNTER_BACKEND="memory")
    result = subprocess.run(
        _unillm("serve", "--workers", "2", "--no-migrate"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "UNILLM_COUNTER_BACKEND=memory" in result.stderr and "Traceback" not in result.stderr


async def test_first_start_creates_and_prints_an_admin_key_once(tmp_path: Path) -> None:
    env = _env(f"sqlite:///{tmp_path / 'u.db'}", tmp_path)
    port = _free_port()
    outputs = []
    for _ in range(2):
        process = subprocess.Popen(
            _unillm("serve", "--port", str(port)),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        await _wait_ready(f"http://127.0.0.1:{port}", process)
        outputs.append(_stop(process))
    first, second = outputs
    key_lines = [line.strip() for line in first.splitlines() if line.strip().startswith("ulm-")]
    assert len(key_lines) == 1, first
    assert "Next steps" in first and "ulm-" not in second
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        process = subprocess.Popen(
            _unillm("serve", "--port", str(port), "--no-migrate"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            await _wait_ready(f"http://127.0.0.1:{port}", process)
            response = await client.get(
                "/api/v1/access/tier-rules", headers={"Authorization": f"Bearer {key_lines[0]}"}
            )
            assert response.status_code == 200
        finally:
            _stop(process)


@pytest.mark.slow
# "auto" without Redis: `serve` tells its workers they are two, so neither keeps counts in memory.
@pytest.mark.parametrize("counter", ["database", "redis", "auto"])
async def test_two_workers_share_one_daily_quota_exactly(
    database_url: str, tmp_path: Path, counter: str, request: pytest.FixtureRequest
) -> None:
    extra = {
        "UNILLM_ADMIN_KEY": ADMIN_KEY,
        "UNILLM_COUNTER_BACKEND": counter,
        "UNILLM_SNAPSHOT_REFRESH_SECONDS": "0.5",
    }
    if counter == "redis":
        extra["UNILLM_REDIS_URL"] = request.getfixturevalue("redis_url")
        extra["UNILLM_REDIS_KEY_PREFIX"] = request.getfixturevalue("redis_key_prefix")
    env = _env(database_url, tmp_path, **extra)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    async with FakeOpenAI() as fake:
        process = subprocess.Popen(
            _unillm("serve", "--port", str(port), "--workers", "2"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            await _wait_ready(base_url, process)
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            async with httpx.AsyncClient(base_url=base_url, headers=admin, timeout=10) as client:
                assert (
                    await client.post(
                        "/api/v1/llm/providers",
                        json={"name": "fake", "type": "openai", "base_url": fake.base_url, "api_key": "sk-x"},
                    )
                ).is_success
                assert (
                    await client.post(
                        "/api/v1/access/tier-rules",
                        json={
                            "tier_code": "ten",
                            "model_pattern": "openai/*",
                            "allowed": True,
                            "max_requests_per_day": 10,
                            "priority": 1,
                        },
                    )
                ).is_success
                key = (await client.post("/api/v1/keys", json={"user_id": "u", "tier_code": "ten"})).json()[
                    "key"
                ]
            await asyncio.sleep(1.5)  # the other worker picks the changes up from the config version
            limits = httpx.Limits(max_connections=40)
            async with httpx.AsyncClient(
                base_url=base_url, timeout=30, limits=limits, headers={"Authorization": f"Bearer {key}"}
            ) as client:
                responses = await asyncio.gather(
                    *(
                        client.post(
                            "/v1/chat/completions",
                            json={"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
                        )
                        for _ in range(40)
                    )
                )
        finally:
            _stop(process)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 10 and statuses.count(429) == 30, statuses
