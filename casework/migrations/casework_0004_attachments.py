"""casework: attachments of cases (case_attachments: citizens' photos, agents' documents, departments'
replies; the files themselves are under HOTLINE_HOME/attachments by SHA-256)

Revision ID: casework_0004
Revises: casework_0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "casework_0004"
down_revision: str | Sequence[str] | None = "casework_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploader_role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("mime", sa.String(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_attachments_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_attachments")),
    )
    with op.batch_alter_table("case_attachments") as batch_op:
        batch_op.create_index(batch_op.f("ix_case_attachments_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_attachments_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_attachments") as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_attachments_sha256"))
        batch_op.drop_index(batch_op.f("ix_case_attachments_case_id"))
    op.drop_table("case_attachments")
