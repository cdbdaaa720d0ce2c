"""core: index failed attempts by time, so that old ones of every key can be pruned cheaply

Revision ID: core_0003
Revises: core_0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "core_0003"
down_revision: str | Sequence[str] | None = "core_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_failed_attempts_at", "failed_attempts", ["at"])


def downgrade() -> None:
    op.drop_index("ix_failed_attempts_at", table_name="failed_attempts")
