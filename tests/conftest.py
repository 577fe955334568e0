"""Fixtures every test can use: `backend` runs a test once on SQLite and once on PostgreSQL.

- `database_url`: a migrated, seeded database of the current backend, fresh for the test.
- `empty_database_url`: an empty one (for migration tests).
- `settings`, `runtime`: unillm configured for that database.
- `redis_url`, `redis_key_prefix`: Redis (fails under UNILLM_TEST_REQUIRE=redis when it is down) and
  a key prefix of the test's own, cleaned up afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests import backends
from unillm.config import Settings
from unillm.runtime import Runtime

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[backends.Templates]:
    holder = backends.Templates(tmp_path_factory.mktemp("templates"))
    yield holder
    holder.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgresql":
        backends.require_service("postgresql", backends.PG_ADMIN_URL, 5432)
    else:
        backends.STATE.used.add("sqlite")
    return name


@pytest.fixture
def database_url(backend: str, templates: backends.Templates, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield templates.sqlite_copy(tmp_path / "unillm.db")
        return
    name, url = templates.pg_copy()
    yield url
    backends.drop_pg_database(name)


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = backends.create_pg_database()
    yield backends.pg_url(name)
    backends.drop_pg_database(name)


def make_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "secret_key": Fernet.generate_key().decode(),
        "health_check_interval_seconds": 0,
        "snapshot_refresh_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data")


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(settings)
    yield runtime
    await runtime.close()


@pytest.fixture
def redis_url() -> str:
    backends.require_service("redis", backends.REDIS_URL, 6379)
    return backends.REDIS_URL


@pytest.fixture
def redis_key_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own (several suites may share one Redis); its keys are removed after."""
    import uuid

    import redis

    prefix = f"unillm-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    used = ", ".join(sorted(backends.STATE.used)) or "none"
    terminalreporter.write_line(f"unillm test backends used: {used}")
    for name, why in sorted(backends.STATE.unavailable.items()):
        terminalreporter.write_line(f"unillm test backend NOT used: {why}")
