"""core: administration — a forced password change after a reset, the settings the admin pages edit
(service hours, case deadlines), and a department's contacts and parent unit

The department columns belong to casework's table; this revision depends on casework_0002 so that the
table exists first (the lead assigned this one id for the administration work).

Revision ID: core_0005
Revises: core_0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0005"
down_revision: str | Sequence[str] | None = "core_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "casework_0002"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "site_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_site_settings")),
    )
    with op.batch_alter_table("case_departments") as batch:
        batch.add_column(sa.Column("contacts", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_case_departments_parent_id_case_departments"), "case_departments", ["parent_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("case_departments") as batch:
        batch.drop_constraint(op.f("fk_case_departments_parent_id_case_departments"), type_="foreignkey")
        batch.drop_column("parent_id")
        batch.drop_column("contacts")
    op.drop_table("site_settings")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("must_change_password")
