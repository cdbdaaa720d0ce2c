"""casework: 主办 + 协办 departments on a case (case_handling_units: the lead and the assisting departments,
the assisting ones' opinions); every referred case's department becomes its lead row

Revision ID: casework_0011
Revises: casework_0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "casework_0011"
down_revision: str | Sequence[str] | None = "casework_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_handling_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("opinion", sa.Text(), nullable=False),
        sa.Column("opinion_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opinion_by", sa.String(length=64), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint("role IN ('lead', 'assist')", name=op.f("ck_case_handling_units_role")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_handling_units_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["case_departments.id"],
            name=op.f("fk_case_handling_units_department_id_case_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_handling_units")),
    )
    with op.batch_alter_table("case_handling_units") as batch_op:
        batch_op.create_index(
            "ux_case_handling_units_case_department", ["case_id", "department_id"], unique=True
        )
        batch_op.create_index(
            "ux_case_handling_units_lead",
            ["case_id"],
            unique=True,
            sqlite_where=sa.text("role = 'lead'"),
            postgresql_where=sa.text("role = 'lead'"),
        )
        batch_op.create_index(
            "ix_case_handling_units_department_role", ["department_id", "role", "case_id"], unique=False
        )
    # existing cases: the department they were referred to is their lead (主办)
    op.execute(
        "INSERT INTO case_handling_units (case_id, department_id, role, opinion, added_at, added_by) "
        "SELECT id, department_id, 'lead', '', COALESCE(referred_at, created_at), 'migration' "
        "FROM cases WHERE department_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("case_handling_units") as batch_op:
        batch_op.drop_index("ix_case_handling_units_department_role")
        batch_op.drop_index("ux_case_handling_units_lead")
        batch_op.drop_index("ux_case_handling_units_case_department")
    op.drop_table("case_handling_units")
