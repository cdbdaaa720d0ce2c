"""kb: documents, revisions, synonym groups (seeded), search gaps, feedback

Revision ID: kb_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "kb_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("kb",)
depends_on: str | Sequence[str] | None = "core_0001"

DEFAULT_SYNONYMS = [
    ["公积金", "住房公积金"],
    ["医保", "医疗保险", "基本医疗保险", "医疗保障"],
    ["社保", "社会保险"],
    ["社保卡", "社会保障卡"],
    ["养老金", "养老保险金", "退休金"],
    ["失业金", "失业保险金"],
    ["低保", "最低生活保障"],
    ["居住证", "暂住证"],
    ["身份证", "居民身份证"],
    ["户口", "户籍"],
    ["新冠", "新冠肺炎", "新型冠状病毒肺炎", "新型冠状病毒感染的肺炎"],
    ["口罩", "医用口罩"],
    ["复工", "复工复产"],
    ["工资", "劳动报酬", "薪水"],
    ["欠薪", "拖欠工资"],
    ["物业费", "物业服务费"],
    ["城管", "城市管理"],
    ["交警", "公安交通管理"],
    ["驾照", "驾驶证"],
    ["个税", "个人所得税"],
]


def _content_columns() -> list[sa.Column]:
    return [
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("department", sa.String(128), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source_url", sa.String(512), nullable=True),
        sa.Column("published_at", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("review_due", sa.Date(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "kb_documents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("external_id", sa.String(128), nullable=False),
        *_content_columns(),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("helpful_count", sa.Integer(), nullable=False),
        sa.Column("unhelpful_count", sa.Integer(), nullable=False),
        sa.Column("revision_count", sa.Integer(), nullable=False),
        sa.Column("published_revision_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_documents")),
        sa.UniqueConstraint("external_id", name=op.f("uq_kb_documents_external_id")),
    )
    op.create_index(op.f("ix_kb_documents_title"), "kb_documents", ["title"])
    op.create_index(op.f("ix_kb_documents_category"), "kb_documents", ["category"])
    op.create_index(op.f("ix_kb_documents_status"), "kb_documents", ["status"])
    op.create_index(op.f("ix_kb_documents_live"), "kb_documents", ["live"])
    op.create_table(
        "kb_revisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        *_content_columns(),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["kb_documents.id"],
            name=op.f("fk_kb_revisions_document_id_kb_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_revisions")),
        sa.UniqueConstraint("document_id", "number", name=op.f("uq_kb_revisions_document_id")),
    )
    op.create_index(op.f("ix_kb_revisions_document_id"), "kb_revisions", ["document_id"])
    with op.batch_alter_table("kb_documents") as batch:
        batch.create_foreign_key(
            op.f("fk_kb_documents_published_revision_id_kb_revisions"),
            "kb_revisions",
            ["published_revision_id"],
            ["id"],
            ondelete="SET NULL",
        )
    synonyms = op.create_table(
        "kb_synonym_groups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_synonym_groups")),
    )
    op.create_table(
        "kb_search_gaps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("query", sa.String(256), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_search_gaps")),
        sa.UniqueConstraint("query", "channel", name=op.f("uq_kb_search_gaps_query")),
    )
    op.create_index(op.f("ix_kb_search_gaps_last_seen"), "kb_search_gaps", ["last_seen"])
    op.create_index(op.f("ix_kb_search_gaps_resolved"), "kb_search_gaps", ["resolved"])
    op.create_table(
        "kb_feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["kb_documents.id"],
            name=op.f("fk_kb_feedback_document_id_kb_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_feedback")),
    )
    op.create_index(op.f("ix_kb_feedback_document_id"), "kb_feedback", ["document_id"])
    now = datetime.now(UTC)
    op.bulk_insert(
        synonyms, [{"words": words, "updated_by": "system", "updated_at": now} for words in DEFAULT_SYNONYMS]
    )


def downgrade() -> None:
    with op.batch_alter_table("kb_documents") as batch:
        batch.drop_constraint(op.f("fk_kb_documents_published_revision_id_kb_revisions"), type_="foreignkey")
    for table in ("kb_feedback", "kb_search_gaps", "kb_synonym_groups", "kb_revisions", "kb_documents"):
        op.drop_table(table)
