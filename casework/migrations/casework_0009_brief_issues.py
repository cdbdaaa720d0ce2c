"""casework: the daily brief as a document (每日要情): cases marked for it (case_brief_marks) and each
day's issue as compiled (case_brief_issues: 期号, summary, chosen cases, issued)

Revision ID: casework_0009
Revises: casework_0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "casework_0009"
down_revision: str | Sequence[str] | None = "casework_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_brief_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("marked_by", sa.String(length=64), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_brief_marks_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_brief_marks")),
    )
    with op.batch_alter_table("case_brief_marks") as batch_op:
        batch_op.create_index(batch_op.f("ix_case_brief_marks_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_brief_marks_day"), ["day"], unique=False)
        batch_op.create_index("ux_case_brief_marks_case_day", ["case_id", "day"], unique=True)
    op.create_table(
        "case_brief_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("case_ids", sa.JSON(), nullable=False),
        sa.Column("compiled_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_brief_issues")),
        sa.UniqueConstraint("day", name=op.f("uq_case_brief_issues_day")),
    )


def downgrade() -> None:
    op.drop_table("case_brief_issues")
    with op.batch_alter_table("case_brief_marks") as batch_op:
        batch_op.drop_index("ux_case_brief_marks_case_day")
        batch_op.drop_index(batch_op.f("ix_case_brief_marks_day"))
        batch_op.drop_index(batch_op.f("ix_case_brief_marks_case_id"))
    op.drop_table("case_brief_marks")
