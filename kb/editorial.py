"""What editors read besides the documents: readers' feedback with the queries that led to it, the reason
a draft was returned, and the side-by-side comparison of two revisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.models import AuditEntry
from kb.documents import content_lines, content_of, history
from kb.models import Document, Feedback, Revision
from kb.worddiff import DiffRow, side_by_side

WORKFLOW_ACTIONS = ("kb.submit", "kb.approve", "kb.reject", "kb.publish", "kb.withdraw")


@dataclass(frozen=True)
class FeedbackEntry:
    id: int
    document_id: int
    document_title: str
    helpful: bool
    comment: str
    query: str
    created_at: datetime


def list_feedback(
    session: Session,
    *,
    document_id: int | None = None,
    helpful: bool | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[FeedbackEntry], int]:
    """Readers' answers, newest first, with the document's title: one document's or all of them, only
    the unhelpful ones with helpful=False. Returns (entries of the page, total)."""
    stmt = select(Feedback, Document.title).join(Document, Document.id == Feedback.document_id)
    if document_id is not None:
        stmt = stmt.where(Feedback.document_id == document_id)
    if helpful is not None:
        stmt = stmt.where(Feedback.helpful.is_(helpful))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page, per_page = max(page, 1), max(min(per_page, 200), 1)
    rows = session.execute(
        stmt.order_by(Feedback.created_at.desc(), Feedback.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    entries = [
        FeedbackEntry(
            id=f.id,
            document_id=f.document_id,
            document_title=title,
            helpful=f.helpful,
            comment=f.comment or "",
            query=f.query or "",
            created_at=f.created_at,
        )
        for f, title in rows
    ]
    return entries, total


def returned_reason(session: Session, doc_id: int) -> AuditEntry | None:
    """The reviewer's return (kb.reject, with its comment) of a document that is a draft because of it:
    the last workflow step was that return."""
    doc = session.get(Document, doc_id)
    if doc is None or doc.status != "draft":
        return None
    for entry in reversed(history(session, doc_id)):
        if entry.action in WORKFLOW_ACTIONS:
            return entry if entry.action == "kb.reject" else None
    return None


@dataclass(frozen=True)
class Comparison:
    """Two revisions of a document side by side (old None: nothing published yet)."""

    old: Revision | None
    new: Revision | None
    rows: list[DiffRow]

    @property
    def changed(self) -> bool:
        return any(row.kind != "equal" for row in self.rows)


def compare_revisions(
    session: Session, doc_id: int, old_number: int | None = None, new_number: int | None = None
) -> Comparison:
    """Revision old_number against new_number, word by word; by default the published revision against
    the newest one. A number the document does not have is taken as the default."""
    doc = session.get(Document, doc_id)
    if doc is None:
        return Comparison(None, None, [])

    def revision(number: int | None) -> Revision | None:
        if number is None:
            return None
        return session.scalar(
            select(Revision).where(Revision.document_id == doc_id, Revision.number == number)
        )

    new = revision(new_number) or session.scalar(
        select(Revision).where(Revision.document_id == doc_id).order_by(Revision.number.desc()).limit(1)
    )
    old = revision(old_number) or (
        session.get(Revision, doc.published_revision_id) if doc.published_revision_id else None
    )
    old_lines = content_lines(content_of(old)) if old else []
    new_lines = content_lines(content_of(new)) if new else []
    return Comparison(old, new, side_by_side(old_lines, new_lines))
