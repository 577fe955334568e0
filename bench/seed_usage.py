"""Fill a PostgreSQL database with N synthetic usage rows (one INSERT ... SELECT generate_series, in
chunks) and the matching `daily_cost_summary` roll-up (one GROUP BY). Not a test; used by
`bench/usage_bench.py`.

    uv run python -m bench.seed_usage postgresql://postgres@127.0.0.1:5432/scratch --rows 1000000

Rows spread over `--days` days (default 30) ending now, 200 users, 10 models over 4 providers,
5% errors, 10% unpriced (local models). The database must be migrated (`unillm db upgrade`);
`--migrate` does it.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg

from unillm.db.engine import parse_database_url

MODELS = ("openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-3.5-turbo", "anthropic/claude-3-5-sonnet",
          "anthropic/claude-3-haiku", "groq/llama3-8b-8192", "groq/llama3-70b-8192",
          "ollama/llama3.1:8b", "ollama/qwen2.5:14b", "vllm/mistral-7b")

CHUNK_SQL = """
INSERT INTO llm_usage_logs (request_id, timestamp, user_id, tier_code, model_id, provider, source,
    prompt_tokens, cached_prompt_tokens, completion_tokens, total_tokens, usage_estimated, cost_usd,
    input_price_per_1k, output_price_per_1k, cached_input_price_per_1k, latency_ms,
    time_to_first_token_ms, status, status_code, metadata)
SELECT 'bench-' || g, now() - make_interval(secs => (g::bigint * 7919) % ($3::bigint * 86400)),
    'user-' || (g % 200), (ARRAY['free','pro','enterprise'])[1 + g % 3], m.model, split_part(m.model, '/', 1),
    (ARRAY['api','openwebui','brigade'])[1 + g % 3],
    100 + g % 900, (g % 5) * 20, 20 + g % 400, 120 + g % 900 + g % 400, false,
    CASE WHEN m.priced THEN round(((100 + g % 900 - (g % 5) * 20) * 0.0025 + (g % 5) * 20 * 0.00125
                                   + (20 + g % 400) * 0.01) / 1000, 9) END,
    CASE WHEN m.priced THEN 0.0025 END, CASE WHEN m.priced THEN 0.01 END, CASE WHEN m.priced THEN 0.00125 END,
    200 + g % 3000, 50 + g % 500,
    CASE WHEN g % 20 = 0 THEN 'error' ELSE 'success' END, CASE WHEN g % 20 = 0 THEN 502 ELSE 200 END, '{}'
FROM generate_series($1::bigint, $2::bigint) AS g
CROSS JOIN LATERAL (SELECT (ARRAY[{models}])[1 + (g % {count})] AS model,
                           (g % {count}) < 7 AS priced) AS m
"""

ROLLUP_SQL = """
INSERT INTO daily_cost_summary (date, user_id, provider, model_id, total_cost_usd, total_requests,
                                total_tokens, unpriced_requests, prompt_tokens, cached_prompt_tokens,
                                completion_tokens, error_requests)
SELECT (timestamp AT TIME ZONE 'UTC')::date, coalesce(user_id, ''), coalesce(provider, ''), model_id,
       coalesce(sum(cost_usd), 0), count(*), sum(total_tokens), count(*) FILTER (WHERE cost_usd IS NULL),
       sum(prompt_tokens), sum(cached_prompt_tokens), sum(completion_tokens),
       count(*) FILTER (WHERE status = 'error')
FROM llm_usage_logs GROUP BY 1, 2, 3, 4
ON CONFLICT (date, user_id, provider, model_id) DO UPDATE SET
    total_cost_usd = excluded.total_cost_usd, total_requests = excluded.total_requests,
    total_tokens = excluded.total_tokens, unpriced_requests = excluded.unpriced_requests,
    prompt_tokens = excluded.prompt_tokens, cached_prompt_tokens = excluded.cached_prompt_tokens,
    completion_tokens = excluded.completion_tokens, error_requests = excluded.error_requests
"""


def asyncpg_dsn(url: str) -> str:
    parsed = parse_database_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


async def seed(url: str, rows: int, days: int = 30, chunk: int = 500_000, verbose: bool = True) -> float:
    """Insert `rows` rows (ids bench-1..N) and rebuild the roll-up; returns seconds taken."""
    models = ",".join(f"'{m}'" for m in MODELS)
    sql = CHUNK_SQL.replace("{models}", models).replace("{count}", str(len(MODELS)))
    started = time.perf_counter()
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for first in range(1, rows + 1, chunk):
            last = min(rows, first + chunk - 1)
            await connection.execute(sql, first, last, days)
            if verbose:
                print(f"  {last:,} rows ({time.perf_counter() - started:.0f} s)", flush=True)
        await connection.execute(ROLLUP_SQL)
        await connection.execute("ANALYZE llm_usage_logs")
        await connection.execute("ANALYZE daily_cost_summary")
    finally:
        await connection.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--migrate", action="store_true")
    args = parser.parse_args()
    if args.migrate:
        from unillm.db import migrate

        migrate.upgrade(args.url)
    seconds = asyncio.run(seed(args.url, args.rows, args.days))
    print(f"seeded {args.rows:,} rows in {seconds:.1f} s")


if __name__ == "__main__":
    main()
