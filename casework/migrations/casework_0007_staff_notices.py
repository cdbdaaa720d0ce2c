"""casework: live notices for staff (staff_notices, casework/staffnotices.py): addressed to a user, a
department or a role, with the case, the text and when it was read

Revision ID: casework_0007
Revises: casework_0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "casework_0007"
down_revision: str | Sequence[str] | None = "casework_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_by", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_staff_notices_user_id_users")),
        sa.ForeignKeyConstraint(
            ["department_id"], ["case_departments.id"],
            name=op.f("fk_staff_notices_department_id_case_departments"),
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_staff_notices_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_notices")),
    )  # fmt: skip
    op.create_index(op.f("ix_staff_notices_case_id"), "staff_notices", ["case_id"])
    op.create_index("ix_staff_notices_user_read", "staff_notices", ["user_id", "read_at"])
    op.create_index("ix_staff_notices_department_read", "staff_notices", ["department_id", "read_at"])
    op.create_index("ix_staff_notices_role_read", "staff_notices", ["role", "read_at"])


def downgrade() -> None:
    op.drop_table("staff_notices")
