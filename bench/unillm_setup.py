"""unillm as a benchmark target: its command, environment, admin set-up and scratch resources.

Why its own module: `setup_unillm` is the one place that knows the admin API calls that turn a
fresh unillm into a gateway in front of the mock, so whoever changes that API adjusts it here and
nowhere else. The PostgreSQL scratch database and the Redis key prefix are created per run and
removed by `run.py` at the end, whatever happens.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

MODEL = "openai/gpt-4o-mini"
PG_SERVER_URL = "postgresql://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379"


class Unavailable(Exception):
    """A target could not be started or set up; the message is shown instead of its rows."""


def setup_unillm(base_url: str, admin_key: str, mock_base_url: str) -> tuple[str, str]:
    """Configure a fresh unillm through its admin API for the benchmark; returns (client key, model).

    Everything stays on: the client key belongs to a `user`-role user on tier `bench`, whose tier rule
    allows `openai/*` with a daily quota (so key auth, the access decision, the quota counter and the
    usage ledger all run on every request). The provider is an `openai`-type provider whose base_url
    is the mock, so the gateway sends `gpt-4o-mini` upstream.
    """
    admin = {"Authorization": f"Bearer {admin_key}"}
    http_json(
        "POST",
        f"{base_url}/api/v1/llm/providers",
        admin,
        {"name": "mock", "type": "openai", "base_url": mock_base_url, "api_key": "sk-mock"},
    )
    http_json(
        "POST",
        f"{base_url}/api/v1/access/tier-rules",
        admin,
        {
            "tier_code": "bench",
            "model_pattern": "openai/*",
            "allowed": True,
            "max_requests_per_day": 100_000_000,
            "max_context_length": None,
            "priority": 100,
        },
    )
    try:  # a price makes the ledger compute a cost; optional, in case pricing is not there yet
        http_json(
            "PUT",
            f"{base_url}/api/v1/pricing/{MODEL}",
            admin,
            {"provider": "openai", "input_price_per_1k": "0.00015", "output_price_per_1k": "0.0006"},
        )
    except Unavailable as exc:
        print(f"  note: pricing not set ({exc}); usage rows will have no cost", flush=True)
    created = http_json(
        "POST",
        f"{base_url}/api/v1/keys",
        admin,
        {"user_id": "bench-user", "tier_code": "bench", "role": "user"},
    )
    return str(created["key"]), MODEL


def http_json(method: str, url: str, headers: dict[str, str], body: Any = None, timeout: float = 30.0) -> Any:
    """One JSON request; any non-2xx answer raises Unavailable naming the endpoint and status."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        raise Unavailable(f"{method} {url.split('127.0.0.1', 1)[-1]} -> {exc.code} {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise Unavailable(f"{method} {url} failed: {exc}") from exc
    return json.loads(raw) if raw.strip() else None


def command() -> list[str]:
    """The `unillm` command of the environment running the benchmark (not a `uv run` wrapper, so the
    process we measure is the server itself)."""
    exe = shutil.which("unillm", path=str(Path(sys.executable).parent)) or shutil.which("unillm")
    return [exe] if exe else [sys.executable, "-c", "from unillm.cli.main import app; app()"]


def environment(
    *, database_url: str, data_dir: Path, admin_key: str, redis_url: str | None, redis_prefix: str
) -> dict[str, str]:
    """Only the UNILLM_* settings chosen here: nothing inherited from the caller's shell or .env."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith("UNILLM_")}
    env.update(
        UNILLM_DATABASE_URL=database_url,
        UNILLM_ADMIN_KEY=admin_key,
        UNILLM_DATA_DIR=str(data_dir),
        UNILLM_SECRET_KEY=Fernet.generate_key().decode(),
        UNILLM_REDIS_KEY_PREFIX=redis_prefix,
    )
    if redis_url:
        env["UNILLM_REDIS_URL"] = redis_url
    return env


def new_admin_key() -> str:
    return f"ulm-bench-admin-{secrets.token_hex(16)}"


def migrate(env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(
        [*command(), "db", "upgrade"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise Unavailable(f"`unillm db upgrade` failed: {(done.stdout + done.stderr).strip()[-400:]}")


def create_pg_database() -> tuple[str, str]:
    """A scratch database on the local PostgreSQL; returns (name, URL)."""
    import asyncpg

    name = f"unillm_bench_{os.getpid()}_{secrets.token_hex(3)}"

    async def create() -> None:
        conn = await asyncpg.connect(f"{PG_SERVER_URL}/postgres", timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    try:
        asyncio.run(create())
    except Exception as exc:
        raise Unavailable(f"cannot create a scratch database on {PG_SERVER_URL}: {exc}") from exc
    return name, f"{PG_SERVER_URL}/{name}"


def drop_pg_databases(names: list[str]) -> None:
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(f"{PG_SERVER_URL}/postgres", timeout=10)
        try:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def check_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).ping()
    except redis.RedisError as exc:
        raise Unavailable(f"Redis at {REDIS_URL} is not reachable: {exc}") from exc


def delete_redis_keys(prefix: str) -> int:
    """Delete this run's keys only (SCAN by prefix; never FLUSHDB: the Redis is shared)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
    return len(keys)
