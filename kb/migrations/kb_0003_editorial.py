"""kb: the query that led a reader to a document with their feedback; scheduled publish and withdrawal

Revision ID: kb_0003
Revises: kb_0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "kb_0003"
down_revision: str | Sequence[str] | None = "kb_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kb_feedback") as batch:
        batch.add_column(sa.Column("query", sa.String(200), nullable=False, server_default=""))
    op.create_index("ix_kb_feedback_created_at", "kb_feedback", ["created_at"])
    with op.batch_alter_table("kb_documents") as batch:
        batch.add_column(sa.Column("publish_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("withdraw_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_kb_documents_publish_at", "kb_documents", ["publish_at"])
    op.create_index("ix_kb_documents_withdraw_at", "kb_documents", ["withdraw_at"])


def downgrade() -> None:
    op.drop_index("ix_kb_documents_withdraw_at", "kb_documents")
    op.drop_index("ix_kb_documents_publish_at", "kb_documents")
    with op.batch_alter_table("kb_documents") as batch:
        batch.drop_column("withdraw_at")
        batch.drop_column("publish_at")
    op.drop_index("ix_kb_feedback_created_at", "kb_feedback")
    with op.batch_alter_table("kb_feedback") as batch:
        batch.drop_column("query")
