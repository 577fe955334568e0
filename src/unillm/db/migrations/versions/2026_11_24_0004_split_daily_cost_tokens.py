"""split daily_cost_summary tokens into prompt, cached and completion, and count errors

Cost reports need to show where spend comes from (prompt vs completion tokens, how much the
prompt cache saved) and how many requests failed, without scanning the usage log. The new
counters start at 0; roll-up rows written before this revision only carry the totals.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("prompt_tokens", "cached_prompt_tokens", "completion_tokens", "error_requests")


def upgrade() -> None:
    with op.batch_alter_table("daily_cost_summary", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("daily_cost_summary", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
