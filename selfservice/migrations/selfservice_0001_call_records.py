"""selfservice: IVR call records

Revision ID: selfservice_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "selfservice_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("selfservice",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "ivr_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("caller_number", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("searches", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("case_number", sa.String(length=40), nullable=True),
        sa.Column("transfer_target", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivr_calls")),
    )
    op.create_index(op.f("ix_ivr_calls_call_id"), "ivr_calls", ["call_id"], unique=True)
    op.create_index(op.f("ix_ivr_calls_caller_number"), "ivr_calls", ["caller_number"])
    op.create_index(op.f("ix_ivr_calls_started_at"), "ivr_calls", ["started_at"])
    op.create_index(op.f("ix_ivr_calls_outcome"), "ivr_calls", ["outcome"])


def downgrade() -> None:
    op.drop_table("ivr_calls")
