"""casework: the case status column only takes the life cycle's statuses (ck_cases_status)

Revision ID: casework_0003
Revises: casework_0002
Create Date: 2026-11-30

The list is the one of casework/lifecycle.py when this revision was written; a new status needs a new
revision (tests/casework/test_lifecycle_table.py compares the database with the table). PostgreSQL gets
a CHECK constraint. SQLite cannot add one without copying the table, which its foreign keys (the case
events, urges, ... point at the cases) refuse inside the migration's transaction, so it gets the same
condition as two triggers that abort the insert or update.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "casework_0003"
down_revision: str | Sequence[str] | None = "casework_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("pending_review", "registered", "referred", "accepted", "in_progress", "returned", "replied",
            "reviewed", "followed_up", "closed", "rejected", "merged")  # fmt: skip
CONDITION = "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")"
NAME = "ck_cases_status"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.create_check_constraint(op.f(NAME), "cases", CONDITION)
        return
    for when in ("INSERT", "UPDATE OF status"):
        suffix = "insert" if when == "INSERT" else "update"
        op.execute(
            f"CREATE TRIGGER {NAME}_{suffix} BEFORE {when} ON cases FOR EACH ROW WHEN NOT (NEW.{CONDITION}) "
            f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {NAME}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(NAME), "cases", type_="check")
        return
    for suffix in ("insert", "update"):
        op.execute(f"DROP TRIGGER {NAME}_{suffix}")
