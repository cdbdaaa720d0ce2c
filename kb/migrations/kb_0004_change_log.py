"""kb: the ordered change log every node's search index follows (kb.feed)

Revision ID: kb_0004
Revises: kb_0003
Create Date: 2026-12-01

The log starts empty: an index that existed before it has no position yet, and the first start after
the upgrade rebuilds it from the database and takes the log's end as its position (kb.feed).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "kb_0004"
down_revision: str | Sequence[str] | None = "kb_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_changes",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_kb_changes")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("kb_changes")
