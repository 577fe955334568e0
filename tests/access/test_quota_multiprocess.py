"""Two gateway processes sharing one counter store never admit more than the limit between them.

Each child process connects to the database and to Redis, says "ready", waits for "go" on stdin (so
both fire at the same time) and then sends 25 concurrent reserves to each store, against a limit of
10. One pair of processes serves both stores, since starting Python is the slow part.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date

from unillm.access.quota.database import DatabaseCounter
from unillm.access.quota.redis import RedisCounter
from unillm.runtime import Runtime

DAY = date(2026, 5, 1)

CHILD = r"""
import asyncio, json, sys
from datetime import date

from unillm.access.quota.database import DatabaseCounter
from unillm.access.quota.redis import RedisCounter
from unillm.db.engine import create_engine

async def main():
    database_url, redis_url, prefix = sys.argv[1:4]
    engine = create_engine(database_url)
    counters = {"database": DatabaseCounter(engine), "redis": RedisCounter(redis_url, key_prefix=prefix)}
    day = date(2026, 5, 1)
    for counter in counters.values():
        await counter.used(user_id="shared", rule_key="rule", day=day)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    async def fire(counter):
        return await asyncio.gather(*(counter.reserve(user_id="shared", rule_key="rule", day=day, limit=10)
                                      for _ in range(25)))

    names = list(counters)
    results = await asyncio.gather(*(fire(counters[name]) for name in names))
    print(json.dumps(dict(zip(names, results))), flush=True)
    for counter in counters.values():
        await counter.aclose()
    await engine.dispose()

asyncio.run(main())
"""


async def run_two_processes(*args: str) -> dict[str, list[int]]:
    children = [await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        for _ in range(2)]
    for child in children:
        assert child.stdout is not None
        line = await child.stdout.readline()
        if line.strip() != b"ready":
            _, err = await child.communicate()
            raise AssertionError(f"child failed to start: {line!r} {err.decode()[-2000:]}")
    outputs = await asyncio.gather(*(child.communicate(b"go\n") for child in children))
    admitted: dict[str, list[int]] = {"database": [], "redis": []}
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err.decode()[-2000:]
        results = json.loads(out.decode().strip().splitlines()[-1])
        for name, values in results.items():
            assert len(values) == 25
            admitted[name] += [value for value in values if value is not None]
    return {name: sorted(values) for name, values in admitted.items()}


async def test_two_processes_share_the_database_and_redis(runtime: Runtime, database_url: str,
                                                          redis_url: str, redis_key_prefix: str) -> None:
    """The database part runs on PostgreSQL and on SQLite (one file, two processes)."""
    admitted = await run_two_processes(database_url, redis_url, redis_key_prefix)
    assert admitted == {"database": list(range(10)), "redis": list(range(10))}
    assert await DatabaseCounter(runtime.engine).used(user_id="shared", rule_key="rule", day=DAY) == 10
    redis_counter = RedisCounter(redis_url, key_prefix=redis_key_prefix)
    try:
        assert await redis_counter.used(user_id="shared", rule_key="rule", day=DAY) == 10
    finally:
        await redis_counter.aclose()
