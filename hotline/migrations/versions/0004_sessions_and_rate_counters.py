"""core: a per-user session version (logout, password change and disabling end sessions) and rate
counters taken by one atomic upsert (limits that hold under concurrency)

Revision ID: core_0004
Revises: core_0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0004"
down_revision: str | Sequence[str] | None = "core_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "rate_counters",
        sa.Column("key", sa.String(160), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_counters")),
    )
    op.create_index("ix_rate_counters_window_start", "rate_counters", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_rate_counters_window_start", table_name="rate_counters")
    op.drop_table("rate_counters")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
