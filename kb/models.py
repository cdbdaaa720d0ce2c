"""Knowledge-base tables: documents, their revisions, synonyms, search gaps, feedback, IVR pins, and
the change log the search indexes follow.

A document row carries the content the public sees once it is published; every edit is kept as a
`Revision` (the newest revision is the editors' working copy). `live` says whether the published
content is shown to the public; `status` is the workflow state of the working copy.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, UtcDateTime, utcnow

STATUSES = ("draft", "submitted", "scheduled", "published", "withdrawn")  # scheduled: approved, published at publish_at


class Document(Base):
    __tablename__ = "kb_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    title: Mapped[str] = mapped_column(String(128), index=True)
    category: Mapped[str] = mapped_column(String(16), index=True)
    department: Mapped[str | None] = mapped_column(String(128), nullable=True)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    question: Mapped[str | None] = mapped_column(Text, nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    body: Mapped[str] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    published_at: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    review_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    live: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    views: Mapped[int] = mapped_column(Integer, default=0)
    helpful_count: Mapped[int] = mapped_column(Integer, default=0)
    unhelpful_count: Mapped[int] = mapped_column(Integer, default=0)
    revision_count: Mapped[int] = mapped_column(Integer, default=0)
    # approved to go public at this moment (status "scheduled"), or to leave the public then (live)
    publish_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True, index=True)
    withdraw_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True, index=True)
    published_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("kb_revisions.id", use_alter=True, ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    def is_public(self, today: date) -> bool:
        """Published, not withdrawn and still valid."""
        return self.live and (self.valid_until is None or self.valid_until >= today)

    def effective_status(self, today: date) -> str:
        """The workflow status, or "expired" when the published content is past valid_until."""
        if self.live and self.valid_until is not None and self.valid_until < today:
            return "expired"
        return self.status


CHANGE_OPS = ("upsert", "delete")  # delete: the document row is gone


class Change(Base):
    """One entry of the ordered change log every node's search index follows (kb.feed): the document
    whose indexed form may have changed, written in the transaction that changed it."""

    __tablename__ = "kb_changes"
    __table_args__ = {"sqlite_autoincrement": True}  # a seq is never handed out twice

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # the order
    document_id: Mapped[int] = mapped_column(Integer)  # no foreign key: a deleted document stays logged
    op: Mapped[str] = mapped_column(String(8))  # CHANGE_OPS
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Revision(Base):
    """One saved version of a document's content; never changed after it is written."""

    __tablename__ = "kb_revisions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(128), nullable=True)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    question: Mapped[str | None] = mapped_column(Text, nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    body: Mapped[str] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    published_at: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    review_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class SynonymGroup(Base):
    """Words editors declare equivalent for search, e.g. 公积金 = 住房公积金."""

    __tablename__ = "kb_synonym_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    words: Mapped[list[str]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(64), default="system")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class SearchGap(Base):
    """A query that found nothing, per channel: what the knowledge base is missing."""

    __tablename__ = "kb_search_gaps"
    __table_args__ = (UniqueConstraint("query", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    query: Mapped[str] = mapped_column(String(256))
    channel: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Feedback(Base):
    """A reader's "was this helpful" answer, with an optional comment and the search query that led the
    reader to the document (empty when they came another way)."""

    __tablename__ = "kb_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text, default="")
    query: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


class IvrPin(Base):
    """A document an editor pinned to a key of an IVR menu category: key `position` (1, 2, ...) of the
    listing of `category` reads this document on every call (kb.ivr)."""

    __tablename__ = "kb_ivr_pins"
    __table_args__ = (
        UniqueConstraint("category", "position", name="uq_kb_ivr_pins_category_position"),
        UniqueConstraint("category", "document_id", name="uq_kb_ivr_pins_category_document"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(64), index=True)
    position: Mapped[int] = mapped_column(Integer)
    document_id: Mapped[int] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True)
    pinned_by: Mapped[str] = mapped_column(String(64))
    pinned_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
