"""casework: the case status column only takes the life cycle's statuses (ck_cases_status); cases get
their search terms (search_text: a tsvector with a GIN index on PostgreSQL, its text on SQLite; filled
for the existing cases); indexes for
the work queues (supervised, created_by)

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

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision: str = "casework_0003"
down_revision: str | Sequence[str] | None = "casework_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("pending_review", "registered", "referred", "accepted", "in_progress", "returned", "replied",
            "reviewed", "followed_up", "closed", "rejected", "merged")  # fmt: skip
CONDITION = "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")"
NAME = "ck_cases_status"


def upgrade() -> None:
    _add_search_text()
    op.create_index(op.f("ix_cases_supervised"), "cases", ["supervised"])
    op.create_index(op.f("ix_cases_created_by"), "cases", ["created_by"])
    if op.get_bind().dialect.name != "sqlite":
        op.create_check_constraint(op.f(NAME), "cases", CONDITION)
        op.execute(
            "CREATE INDEX ix_cases_search ON cases USING gin (search_text)"
        )
        return
    for when in ("INSERT", "UPDATE OF status"):
        suffix = "insert" if when == "INSERT" else "update"
        op.execute(
            f"CREATE TRIGGER {NAME}_{suffix} BEFORE {when} ON cases FOR EACH ROW WHEN NOT (NEW.{CONDITION}) "
            f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {NAME}'); END"
        )


def _add_search_text() -> None:
    from casework.search import index_text

    conn = op.get_bind()
    kind = TSVECTOR() if conn.dialect.name == "postgresql" else sa.Text()
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("search_text", kind, nullable=False, server_default=""))
    fields = "id, case_number, caller_number, contact, name, topic, content, address, district"
    rows = conn.execute(sa.text(f"SELECT {fields} FROM cases")).mappings().all()
    update = sa.text("UPDATE cases SET search_text = :text WHERE id = :id")
    for start in range(0, len(rows), 5000):
        batch_rows = rows[start : start + 5000]
        values = [
            {"id": r["id"], "text": index_text(**{k: v for k, v in r.items() if k != "id"})}
            for r in batch_rows
        ]
        conn.execute(update, values)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP INDEX ix_cases_search")
        op.drop_constraint(op.f(NAME), "cases", type_="check")
    else:
        for suffix in ("insert", "update"):
            op.execute(f"DROP TRIGGER {NAME}_{suffix}")
    op.drop_index(op.f("ix_cases_created_by"), table_name="cases")
    op.drop_index(op.f("ix_cases_supervised"), table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("search_text")
