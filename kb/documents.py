"""Documents and their editorial workflow: draft -> submitted -> published -> withdrawn.

Rules
- create: a draft with revision 1. update: a new revision (refused while the document is in review).
- submit: draft/withdrawn -> submitted. approve: submitted -> published (the newest revision becomes
  what the public sees). reject: submitted -> draft, with a required comment. withdraw: a published
  document leaves the public at once.
- While a published document has a newer revision in the works, the public keeps seeing the
  published revision (the document row holds the published content; the working copy is the newest
  revision).
- Concurrency: the document's (status, revision_count) is its version. Every save and workflow step
  writes the row with a compare-and-set UPDATE on the version it read (and on the revision the editor
  started from, when given): of two editors saving at once, or an editor saving while a reviewer
  approves, one wins and the other gets EditConflict ("文档已被他人修改，请刷新后再编辑。"), never a
  duplicate revision number (a 500 before) or a step applied to a state it was not meant for.
  Titles are checked after the row is written (see _check_title), so two documents cannot take one
  title at once; generated external ids come from the row id.
Every step writes an audit entry (entity "kb_document") and queues an index update for after commit.
"""

from __future__ import annotations

import difflib
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from hotline import audit
from hotline.db import changed_rows, utcnow
from hotline.models import AuditEntry
from kb import indexing
from kb.errors import EditConflict, KbError, NotPermitted, WorkflowError
from kb.models import Document, Revision
from kb.schemas import CONTENT_FIELDS, FIELD_LABELS, DocumentInput

ENTITY = "kb_document"
STATUS_NAMES = {
    "draft": "草稿",
    "submitted": "待审核",
    "scheduled": "定时发布",
    "published": "已发布",
    "withdrawn": "已撤回",
    "expired": "已过期",
}


def _content(data: DocumentInput) -> dict[str, Any]:
    return {name: getattr(data, name) for name in CONTENT_FIELDS}


def content_of(source: Document | Revision) -> dict[str, Any]:
    return {name: getattr(source, name) for name in CONTENT_FIELDS}


def _load(session: Session, doc_id: int) -> Document:
    doc = session.get(Document, doc_id)
    if doc is None:
        raise KbError("文档不存在。")
    return doc


def _check_title(session: Session, title: str, doc_id: int) -> None:
    """Titles are unique. Called after the document's row is written, so that two documents given one
    title at once cannot both pass: on SQLite the transaction holds the write lock by then (and sees
    every committed title); on PostgreSQL a transaction lock on the title makes the second check wait
    for the first transaction's end."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(title))))
    stmt = select(Document.id).where(Document.title == title, Document.id != doc_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise KbError(f"标题“{title}”已被其他文档使用，标题必须唯一。")


def _new_external_id(session: Session, number: int) -> str:
    candidate = f"kb-{number:06d}"
    while session.scalar(select(Document.id).where(Document.external_id == candidate)) is not None:
        candidate += "-1"  # the number taken by an imported document's own id
    return candidate


def latest_revision(session: Session, doc: Document) -> Revision | None:
    return session.scalar(
        select(Revision).where(Revision.document_id == doc.id).order_by(Revision.number.desc()).limit(1)
    )


def _compare_and_set(session: Session, doc: Document, **values: Any) -> None:
    """Write `values` to the document row only if its version (status, revision_count) is still the one
    this transaction read; EditConflict otherwise. A concurrent writer waits for the first one's row
    lock (PostgreSQL) or write lock (SQLite), then finds the version changed."""
    changed = changed_rows(
        session,
        update(Document)
        .where(
            Document.id == doc.id,
            Document.status == doc.status,
            Document.revision_count == doc.revision_count,
        )
        .values(**values)
        .execution_options(synchronize_session=False),
    )
    if changed != 1:
        raise EditConflict()
    for name, value in values.items():
        set_committed_value(doc, name, value)


def _add_revision(
    session: Session, doc: Document, content: dict[str, Any], actor: str, comment: str, **values: Any
) -> Revision:
    """The next revision, numbered by a compare-and-set of the document's version (with `values`)."""
    number = (doc.revision_count or 0) + 1
    _compare_and_set(session, doc, revision_count=number, **values)
    rev = Revision(document_id=doc.id, number=number, actor=actor, comment=comment, **content)
    session.add(rev)
    try:
        session.flush()
    except IntegrityError as exc:  # a writer that bypassed the version check (UNIQUE document, number)
        raise EditConflict() from exc
    return rev


def create_document(
    session: Session, data: DocumentInput, *, actor: str, external_id: str | None = None
) -> Document:
    """A new draft (revision 1)."""
    content = _content(data)
    doc = _insert_document(session, content, external_id)
    _check_title(session, data.title, doc.id)
    _add_revision(session, doc, content, actor, "新建")
    audit.record(session, actor=actor, action="kb.create", entity=ENTITY, entity_id=doc.id, comment=doc.title)
    indexing.queue(session, [doc.id])
    session.flush()
    return doc


def _insert_document(session: Session, content: dict[str, Any], external_id: str | None) -> Document:
    """The new document's row. A generated external id is made from the row's own id (two creates at
    once never pick the same one); a given id that a concurrent create took first is refused."""
    if external_id and session.scalar(select(Document.id).where(Document.external_id == external_id)):
        raise KbError(f"编号“{external_id}”已存在。")
    doc = Document(
        external_id=external_id or f"new-{uuid.uuid4().hex}",
        status="draft",
        live=False,
        views=0,
        helpful_count=0,
        unhelpful_count=0,
        revision_count=0,
        **content,
    )
    session.add(doc)
    try:
        session.flush()
        if not external_id:
            doc.external_id = _new_external_id(session, doc.id)
            session.flush()
    except IntegrityError as exc:
        raise KbError(f"编号“{doc.external_id}”已存在。") from exc
    return doc


def update_document(
    session: Session,
    doc_id: int,
    data: DocumentInput,
    *,
    actor: str,
    comment: str = "",
    base_revision: int | None = None,
) -> Document:
    """Save a new revision. A published document keeps showing its published revision until the new
    one is approved; an unpublished one shows the new content to editors at once. base_revision: the
    revision the editor started from (the edit form's hidden field); a save by someone else since then
    is an EditConflict, not silently overwritten."""
    doc = _load(session, doc_id)
    if base_revision is not None and base_revision != doc.revision_count:
        raise EditConflict()
    if doc.status == "submitted":
        raise WorkflowError("文档正在审核中，不能修改；请等待审核结果或由审核人退回。")
    content = _content(data)
    latest = latest_revision(session, doc)
    if latest is not None and content_of(latest) == content:
        raise KbError("内容没有变化。")
    _add_revision(session, doc, content, actor, comment, status="draft", publish_at=None)
    _check_title(session, data.title, doc.id)
    if doc.published_revision_id is None:
        for name, value in content.items():
            setattr(doc, name, value)
    audit.record(session, actor=actor, action="kb.update", entity=ENTITY, entity_id=doc.id, comment=comment)
    indexing.queue(session, [doc.id])
    session.flush()
    return doc


def _transition(
    session: Session,
    doc: Document,
    action: str,
    to: str,
    allowed: tuple[str, ...],
    actor: str,
    comment: str,
    **values: Any,
) -> None:
    if doc.status not in allowed:
        raise WorkflowError(
            f"当前状态为“{STATUS_NAMES.get(doc.status, doc.status)}”，不能执行“{ACTION_NAMES[action]}”。"
        )
    before = doc.status
    _compare_and_set(session, doc, status=to, **values)
    audit.record(
        session,
        actor=actor,
        action=f"kb.{action}",
        entity=ENTITY,
        entity_id=doc.id,
        comment=comment,
        detail={"from": before, "to": to, "revision": doc.revision_count},
    )
    indexing.queue(session, [doc.id])


ACTION_NAMES = {
    "submit": "提交审核",
    "approve": "审核通过",
    "reject": "退回",
    "withdraw": "撤回",
    "publish": "定时发布",
}
SYSTEM = "system"  # the actor of scheduled steps


def submit_document(session: Session, doc_id: int, *, actor: str, comment: str = "") -> Document:
    doc = _load(session, doc_id)
    _transition(session, doc, "submit", "submitted", ("draft", "withdrawn"), actor, comment)
    session.flush()
    return doc


def authors_since_publish(session: Session, doc_id: int) -> set[str]:
    """Who created, edited or submitted the content since it was last approved."""
    actors: set[str] = set()
    for entry in reversed(history(session, doc_id)):
        if entry.action == "kb.approve":
            break
        if entry.action in {"kb.create", "kb.update", "kb.submit"}:
            actors.add(entry.actor)
    return actors


def may_approve(session: Session, doc_id: int, actor: str) -> bool:
    """Four-eyes rule: nobody approves a version they created, edited or submitted themselves."""
    return actor not in authors_since_publish(session, doc_id)


def approve_document(
    session: Session, doc_id: int, *, actor: str, comment: str = "", publish_at: datetime | None = None
) -> Document:
    """Publish the newest revision (by someone other than its authors: may_approve); with a future
    publish_at it is approved now and published then (status "scheduled", run_schedule)."""
    doc = _load(session, doc_id)
    if not may_approve(session, doc_id, actor):
        raise NotPermitted("不能审核通过自己编辑或提交的内容，请由其他审核人员审核。")
    if publish_at is not None and publish_at > utcnow():
        _transition(session, doc, "approve", "scheduled", ("submitted",), actor, comment, publish_at=publish_at)
    else:
        _transition(session, doc, "approve", "published", ("submitted",), actor, comment)
        publish_latest(session, doc)
    session.flush()
    return doc


def schedule_withdrawal(session: Session, doc_id: int, at: datetime | None, *, actor: str) -> Document:
    """Take a public (or scheduled) document off the public at `at` (run_schedule); None cancels."""
    doc = _load(session, doc_id)
    if not doc.live and doc.status != "scheduled":
        raise WorkflowError("只有已发布或定时发布的文档才能设置定时下线。")
    if at is not None and at <= utcnow():
        raise KbError("定时下线的时间应晚于现在；立即下线请直接撤回。")
    if at is not None and doc.publish_at is not None and at <= doc.publish_at:
        raise KbError("定时下线的时间应晚于定时发布的时间。")
    _compare_and_set(session, doc, withdraw_at=at)
    audit.record(
        session,
        actor=actor,
        action="kb.schedule",
        entity=ENTITY,
        entity_id=doc.id,
        comment="取消定时下线" if at is None else "定时下线",
        detail={"withdraw_at": at.isoformat() if at else None},
    )
    session.flush()
    return doc


def run_schedule(session: Session, now: datetime | None = None) -> dict[str, int]:
    """The background step (web workers every minute, `hotline kb schedule`): publish the approved
    documents whose publish_at has come and withdraw the live ones whose withdraw_at has. Each step
    is a compare-and-set like an editor's, so two processes running it at once do each document once."""
    now = now or utcnow()
    done = {"published": 0, "withdrawn": 0}
    due = select(Document.id).where(Document.status == "scheduled", Document.publish_at <= now)
    for doc_id in list(session.scalars(due.order_by(Document.id))):
        if _scheduled_step(session, doc_id, "publish"):
            done["published"] += 1
    due = select(Document.id).where(Document.withdraw_at <= now)
    for doc_id in list(session.scalars(due.order_by(Document.id))):
        if _scheduled_step(session, doc_id, "withdraw"):
            done["withdrawn"] += 1
    return done


def _scheduled_step(session: Session, doc_id: int, step: str) -> bool:
    """One scheduled publish or withdrawal in a savepoint: a document changed meanwhile is skipped."""
    try:
        with session.begin_nested():
            doc = _load(session, doc_id)
            if step == "publish":
                _transition(session, doc, "publish", "published", ("scheduled",), SYSTEM, "定时发布")
                publish_latest(session, doc)
                doc.publish_at = None
            elif doc.live:
                _transition(session, doc, "withdraw", "withdrawn", tuple(STATUS_NAMES), SYSTEM, "定时下线")
                doc.live = False
                doc.withdraw_at = None
            else:
                _compare_and_set(session, doc, withdraw_at=None)
                return False
            session.flush()
    except (EditConflict, WorkflowError):
        return False
    return True


def publish_latest(session: Session, doc: Document, rev: Revision | None = None) -> None:
    """Make the newest revision (rev, when the caller has it) the public content; no checks and no
    audit entry: callers do that."""
    rev = rev or latest_revision(session, doc)
    if rev is None:
        raise KbError("文档没有可发布的版本。")
    for name, value in content_of(rev).items():
        setattr(doc, name, value)
    doc.published_revision_id = rev.id
    doc.status = "published"
    doc.live = True
    indexing.queue(session, [doc.id])


def reject_document(session: Session, doc_id: int, *, actor: str, comment: str) -> Document:
    """Send a submitted document back to its authors; the reason is required."""
    if not (comment or "").strip():
        raise KbError("退回时必须填写退回意见。")
    doc = _load(session, doc_id)
    _transition(session, doc, "reject", "draft", ("submitted", "scheduled"), actor, comment.strip(), publish_at=None)
    session.flush()
    return doc


def withdraw_document(session: Session, doc_id: int, *, actor: str, comment: str = "") -> Document:
    """Take a published document off the public site, IVR and agents' search at once."""
    doc = _load(session, doc_id)
    if not doc.live:
        raise WorkflowError("只有已发布的文档才能撤回。")
    _transition(session, doc, "withdraw", "withdrawn", tuple(STATUS_NAMES), actor, comment, withdraw_at=None)
    doc.live = False
    session.flush()
    return doc


def content_lines(content: dict[str, Any]) -> list[str]:
    lines = []
    for name in CONTENT_FIELDS:
        if name == "body":
            continue
        value = content.get(name)
        if isinstance(value, list):
            value = "，".join(value)
        lines.append(f"{FIELD_LABELS[name]}：{'' if value is None else value}")
    lines.append(f"{FIELD_LABELS['body']}：")
    lines.extend((content.get("body") or "").splitlines())
    return lines


def document_diff(session: Session, doc_id: int) -> list[str]:
    """Unified diff (lines) from the last published revision to the newest one; empty when equal."""
    doc = _load(session, doc_id)
    latest = latest_revision(session, doc)
    published = session.get(Revision, doc.published_revision_id) if doc.published_revision_id else None
    old = content_lines(content_of(published)) if published else []
    new = content_lines(content_of(latest)) if latest else []
    old_name = f"已发布（第 {published.number} 版）" if published else "（未发布）"
    new_name = f"第 {latest.number} 版" if latest else "（无）"
    return list(difflib.unified_diff(old, new, fromfile=old_name, tofile=new_name, lineterm=""))


def list_documents(
    session: Session,
    *,
    status: str | None = None,
    category: str | None = None,
    q: str | None = None,
    page: int = 1,
    per_page: int = 20,
    year: int | None = None,
) -> tuple[list[Document], int]:
    """Editors' list, newest change first. Besides the workflow states, status may be "expired"
    (published but past valid_until) or "review_due" (public documents whose review date has come).
    year: published in that year (0: without a publication date; kb.corpus.NO_YEAR)."""
    stmt = select(Document)
    if year is not None:
        stmt = stmt.where(
            Document.published_at.is_(None)
            if year == 0
            else Document.published_at.between(date(year, 1, 1), date(year, 12, 31))
        )
    today = date.today()
    if status == "review_due":
        stmt = stmt.where(Document.live.is_(True), Document.review_due <= today)
    elif status == "expired":
        stmt = stmt.where(Document.live.is_(True), Document.valid_until < today)
    elif status == "published":
        stmt = stmt.where(Document.status == "published").where(
            or_(Document.valid_until.is_(None), Document.valid_until >= today)
        )
    elif status:
        stmt = stmt.where(Document.status == status)
    if category:
        stmt = stmt.where(Document.category == category)
    if q and q.strip():
        pattern = f"%{q.strip()}%"
        stmt = stmt.where(or_(Document.title.like(pattern), Document.external_id.like(pattern)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page, per_page = max(page, 1), max(min(per_page, 200), 1)
    rows = session.scalars(
        stmt.order_by(Document.updated_at.desc(), Document.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), total


def get_document_row(session: Session, doc_id: int) -> Document | None:
    return session.get(Document, doc_id)


def revisions(session: Session, doc_id: int) -> list[Revision]:
    """Every saved version, newest first."""
    return list(
        session.scalars(
            select(Revision).where(Revision.document_id == doc_id).order_by(Revision.number.desc())
        )
    )


def history(session: Session, doc_id: int) -> list[AuditEntry]:
    """The audit trail of one document, oldest first."""
    return audit.history(session, ENTITY, doc_id)
