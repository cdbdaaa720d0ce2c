"""core: which node wrote each recording and attachment file on a cluster without a shared folder
(node_files, hotline/nodefiles.py); a new table, so old nodes run on it unchanged

Revision ID: core_0007
Revises: core_0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0007"
down_revision: str | Sequence[str] | None = "core_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "node_files",
        sa.Column("key", sa.String(length=400), primary_key=True),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=200), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("node_files")
