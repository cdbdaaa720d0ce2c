"""kb: documents pinned by editors to the keys of an IVR menu category (kb_ivr_pins)

Revision ID: kb_0002
Revises: kb_0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "kb_0002"
down_revision: str | Sequence[str] | None = "kb_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_ivr_pins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "document_id", sa.Integer(), sa.ForeignKey("kb_documents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("pinned_by", sa.String(64), nullable=False),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("category", "position", name="uq_kb_ivr_pins_category_position"),
        sa.UniqueConstraint("category", "document_id", name="uq_kb_ivr_pins_category_document"),
    )
    op.create_index("ix_kb_ivr_pins_category", "kb_ivr_pins", ["category"])
    op.create_index("ix_kb_ivr_pins_document_id", "kb_ivr_pins", ["document_id"])


def downgrade() -> None:
    op.drop_table("kb_ivr_pins")
