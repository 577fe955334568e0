"""Cost-analytics benchmark on PostgreSQL: a 30-day summary by model (from the roll-up), the first
page of filtered logs, and the CSV export's rows/s with the process RSS (flat memory). Not a test.

    uv run python -m bench.usage_bench --rows 5000000         # scratch database, dropped afterwards
    uv run python -m bench.usage_bench --url postgresql://.../db --no-seed   # an existing database

Targets: summary < 100 ms, first page < 50 ms, export >= 100,000 rows/s with flat memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from zoneinfo import ZoneInfo

import asyncpg
import psutil  # type: ignore[import-untyped]
from bench.seed_usage import asyncpg_dsn, seed

from unillm.config import Settings
from unillm.runtime import Runtime
from unillm.usage import reports
from unillm.usage.schemas import UsageFilters

ADMIN_URL = os.environ.get("UNILLM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _median_ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms"


async def bench(url: str, export_rows: int | None) -> None:
    settings = Settings(_env_file=None, database_url=url)
    runtime = Runtime.create(settings)
    tz = ZoneInfo("UTC")
    try:
        async with runtime.sessions() as session:
            timings = []
            for _ in range(7):
                started = time.perf_counter()
                result = await reports.summary(session=session, start=None, end=None, group_by="model", tz=tz)
                timings.append(time.perf_counter() - started)
            print(f"30-day summary by model ({len(result.groups)} groups, "
                  f"{result.total.requests:,} requests): {_median_ms(timings)}")
            for label, filters in (("user_id=user-7", UsageFilters(user_id="user-7")),
                                   ("model_id=openai/gpt-4o", UsageFilters(model_id="openai/gpt-4o")),
                                   ("status=error", UsageFilters(status="error"))):
                timings = []
                for _ in range(7):
                    started = time.perf_counter()
                    page = await reports.list_logs(session=session, filters=filters, limit=100)
                    timings.append(time.perf_counter() - started)
                print(f"first page of logs ({label}, {len(page.items)} rows): {_median_ms(timings)}")
        process = psutil.Process()
        rss_start = process.memory_info().rss
        rss_peak = rss_start
        rows = 0
        size = 0
        started = time.perf_counter()
        async for chunk in reports.export_csv(sessions=runtime.sessions, filters=UsageFilters()):
            rows += chunk.count(b"\n")
            size += len(chunk)
            rss_peak = max(rss_peak, process.memory_info().rss)
            if export_rows is not None and rows >= export_rows:
                break
        seconds = time.perf_counter() - started
        print(f"CSV export: {rows - 1:,} rows, {size / 1e6:.0f} MB in {seconds:.1f} s = "
              f"{(rows - 1) / seconds:,.0f} rows/s; RSS {rss_start / 1e6:.0f} MB at start, "
              f"{rss_peak / 1e6:.0f} MB peak")
    finally:
        await runtime.close()


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(ADMIN_URL))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an existing, migrated database (default: a scratch one)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument("--export-rows", type=int, default=None, help="stop the export after this many rows")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    scratch = None
    url = args.url
    if url is None:
        scratch = f"unillm_usage_bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(_admin(f'CREATE DATABASE "{scratch}"'))
        url = ADMIN_URL.rsplit("/", 1)[0] + f"/{scratch}"
    try:
        if scratch is not None:
            from unillm.db import migrate

            migrate.upgrade(url)
        if not args.no_seed:
            seconds = asyncio.run(seed(url, args.rows))
            print(f"seeded {args.rows:,} rows in {seconds:.0f} s")
        asyncio.run(bench(url, args.export_rows))
    finally:
        if scratch is not None and not args.keep:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            print(f"dropped {scratch}")
        elif scratch is not None:
            print(f"kept {url}")


if __name__ == "__main__":
    main()
