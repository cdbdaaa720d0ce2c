"""casework: business announcements (case_announcements: 业务公告 sent by SMS and fax to recipient groups);
outbox notices collapsed into an earlier message to the same number (case_outbox.collapsed_into)

Revision ID: casework_0008
Revises: casework_0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "casework_0008"
down_revision: str | Sequence[str] | None = "casework_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("channels", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.String(length=500), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_announcements")),
    )
    with op.batch_alter_table("case_announcements") as batch_op:
        batch_op.create_index(batch_op.f("ix_case_announcements_created_at"), ["created_at"], unique=False)
    with op.batch_alter_table("case_outbox") as batch_op:
        batch_op.add_column(sa.Column("collapsed_into", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_outbox") as batch_op:
        batch_op.drop_column("collapsed_into")
    with op.batch_alter_table("case_announcements") as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_announcements_created_at"))
    op.drop_table("case_announcements")
