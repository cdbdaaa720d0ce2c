"""selfservice: call centre (agents' seats, queued calls, console controls)

Revision ID: selfservice_0002
Revises: selfservice_0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "selfservice_0002"
down_revision: str | Sequence[str] | None = "selfservice_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "acd_agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=False),
        sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idle_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_acd_agents_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acd_agents")),
        sa.UniqueConstraint("extension", name=op.f("uq_acd_agents_extension")),
        sa.UniqueConstraint("user_id", name=op.f("uq_acd_agents_user_id")),
    )
    op.create_index(op.f("ix_acd_agents_state"), "acd_agents", ["state"])
    op.create_table(
        "acd_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("caller_number", sa.String(length=40), nullable=False),
        sa.Column("group", sa.String(length=40), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("talk_seconds", sa.Float(), nullable=True),
        sa.Column("wrap_seconds", sa.Float(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("legs", sa.JSON(), nullable=False),
        sa.Column("recording_path", sa.String(length=400), nullable=True),
        sa.Column("callback_number", sa.String(length=40), nullable=True),
        sa.Column("callback_state", sa.String(length=16), nullable=False),
        sa.Column("callback_attempts", sa.Integer(), nullable=False),
        sa.Column("callback_result", sa.String(length=60), nullable=False),
        sa.Column("case_number", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["acd_agents.id"], name=op.f("fk_acd_calls_agent_id_acd_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acd_calls")),
        sa.UniqueConstraint("call_id", name=op.f("uq_acd_calls_call_id")),
    )
    op.create_index(op.f("ix_acd_calls_caller_number"), "acd_calls", ["caller_number"])
    op.create_index(op.f("ix_acd_calls_status"), "acd_calls", ["status"])
    op.create_index(op.f("ix_acd_calls_callback_state"), "acd_calls", ["callback_state"])
    op.create_index(op.f("ix_acd_calls_enqueued_at"), "acd_calls", ["enqueued_at"])
    op.create_table(
        "acd_controls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=120), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acd_controls")),
    )
    op.create_index(op.f("ix_acd_controls_call_id"), "acd_controls", ["call_id"])
    op.create_index(op.f("ix_acd_controls_done_at"), "acd_controls", ["done_at"])


def downgrade() -> None:
    op.drop_table("acd_controls")
    op.drop_table("acd_calls")
    op.drop_table("acd_agents")
