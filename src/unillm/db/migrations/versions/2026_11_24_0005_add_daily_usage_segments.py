"""add daily_usage_segments: the daily roll-up by tier and source, backfilled from the log

Usage summaries by tier or source used to scan `llm_usage_logs`; at millions of rows that is too
slow. This table holds one row per (quota day, tier, source, provider, model) with the measures of
`daily_cost_summary`; the usage writer maintains it from the rows it inserts (same transaction).

Backfill: existing log rows are summed here, in the database, per 15-minute UTC bucket (one pass,
GROUP BY, streamed), and each bucket is filed under its quota day in Python. The quota day is in
UNILLM_QUOTA_TIMEZONE (the zone the writer uses for rows written later), read from the Alembic
config attribute "quota_timezone" when a caller sets it, else from the settings (environment /
.env), else UTC. Every zone offset in use today is a multiple of 15 minutes, so a bucket never
spans two local days; in UTC the buckets are whole days. Sums stay in the storage unit (NUMERIC on
PostgreSQL, integer nano-dollars on SQLite), so the backfill is exact.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import context, op

# Spelled out here, as in 0001, so this file never changes when the models do.
MONEY = sa.Numeric(20, 9).with_variant(sa.BigInteger(), "sqlite")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "daily_usage_segments"
KEYS = ("date", "tier_code", "source", "provider", "model_id")
MEASURES = ("total_cost_usd", "total_requests", "total_tokens", "unpriced_requests", "prompt_tokens",
            "cached_prompt_tokens", "completion_tokens", "error_requests")
INSERT_BATCH = 5000


def _quota_zone() -> ZoneInfo:
    name = context.config.attributes.get("quota_timezone")
    if not name:
        from unillm.config import Settings

        name = Settings().quota_timezone
    return ZoneInfo(name)


def _bucket_sql(dialect: str, seconds: int) -> str:
    if dialect == "postgresql":
        return f"CAST(floor(extract(epoch FROM timestamp) / {seconds}) AS BIGINT)"
    return f"(CAST(strftime('%s', timestamp) AS INTEGER) / {seconds})"


def _backfill() -> None:
    bind = op.get_bind()
    zone = _quota_zone()
    seconds = 86400 if zone.key == "UTC" else 900
    bucket = _bucket_sql(bind.dialect.name, seconds)
    query = sa.text(
        f"SELECT {bucket} AS bucket, COALESCE(tier_code, '') AS tier_code,"
        " COALESCE(source, '') AS source, COALESCE(provider, '') AS provider, model_id,"
        " SUM(cost_usd), COUNT(*), SUM(total_tokens),"
        " SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END), SUM(prompt_tokens),"
        " SUM(cached_prompt_tokens), SUM(completion_tokens),"
        " SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END)"
        " FROM llm_usage_logs GROUP BY 1, 2, 3, 4, 5"
    )
    totals: dict[tuple[date, str, str, str, str], list[Any]] = {}
    days: dict[int, date] = {}
    result = bind.execute(query.execution_options(stream_results=True, yield_per=INSERT_BATCH))
    for row in result:
        number = int(row[0])
        day = days.get(number)
        if day is None:
            day = days[number] = datetime.fromtimestamp(number * seconds, UTC).astimezone(zone).date()
        key = (day, row[1], row[2], row[3], row[4])
        values = [0 if value is None else value for value in row[5:]]
        current = totals.get(key)
        if current is None:
            totals[key] = values
        else:
            totals[key] = [a + b for a, b in zip(current, values, strict=True)]
    table = sa.table(TABLE, sa.column("date", sa.Date()),
                     *(sa.column(name, sa.String()) for name in KEYS[1:]),
                     sa.column("total_cost_usd", MONEY),
                     *(sa.column(name, sa.BigInteger()) for name in MEASURES[1:]))
    rows = [dict(zip(KEYS + MEASURES, (*key, *values), strict=True)) for key, values in totals.items()]
    for start in range(0, len(rows), INSERT_BATCH):
        bind.execute(table.insert(), rows[start:start + INSERT_BATCH])


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("tier_code", sa.String(length=50), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("model_id", sa.String(length=255), nullable=False),
        sa.Column("total_cost_usd", MONEY, nullable=False),
        *(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False) for name in MEASURES[1:]),
        sa.PrimaryKeyConstraint(*KEYS, name=op.f("pk_daily_usage_segments")),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index("ix_daily_usage_segments_date", ["date"], unique=False)
        batch_op.create_index("ix_daily_usage_segments_source_date", ["source", "date"], unique=False)
        batch_op.create_index("ix_daily_usage_segments_tier_code_date", ["tier_code", "date"], unique=False)
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index("ix_daily_usage_segments_tier_code_date")
        batch_op.drop_index("ix_daily_usage_segments_source_date")
        batch_op.drop_index("ix_daily_usage_segments_date")
    op.drop_table(TABLE)
