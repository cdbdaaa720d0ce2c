"""casework: progress-query failures move to the shared failed_attempts table (hotline.attempts)

Revision ID: casework_0002
Revises: casework_0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "casework_0002"
down_revision: str | Sequence[str] | None = "casework_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "core_0002"

SCOPE = "case_query:"  # casework.cases.ATTEMPT_SCOPE


def upgrade() -> None:
    op.execute(
        sa.text(
            "INSERT INTO failed_attempts (key, at) SELECT :scope || key, at FROM case_query_attempts"
        ).bindparams(scope=SCOPE)
    )
    op.drop_index("ix_case_query_attempts_key_at", table_name="case_query_attempts")
    op.drop_table("case_query_attempts")


def downgrade() -> None:
    op.create_table(
        "case_query_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_query_attempts")),
    )
    op.create_index("ix_case_query_attempts_key_at", "case_query_attempts", ["key", "at"])
    op.execute(
        sa.text(
            "INSERT INTO case_query_attempts (key, at) SELECT substr(key, :start, 96), at"
            " FROM failed_attempts WHERE key LIKE :pattern"
        ).bindparams(start=len(SCOPE) + 1, pattern=SCOPE + "%")
    )
    op.execute(sa.text("DELETE FROM failed_attempts WHERE key LIKE :pattern").bindparams(pattern=SCOPE + "%"))
