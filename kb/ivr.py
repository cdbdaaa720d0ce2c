"""IVR listings curated by editors: published documents pinned to the keys of a menu category.

The IVR reads a category's pinned documents first, in the pinned order (key 1 is the first pin), then
fills the listing from the category's other public documents in a stable order: newest publication date
first, undated documents in the order they were added. Never by views: a key reads the same document
on the next call. A pin whose document is no longer public is skipped (the keys after it move up).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from hotline import audit
from kb.errors import KbError
from kb.models import Document, IvrPin

MAX_PINS = 8  # keys 1-8 (9 repeats, 0 is a person)
AUDIT_ACTION = "kb.ivr_pins"


def _public():  # noqa: ANN202 - a SQL condition
    """Published and still valid (Document.is_public in SQL)."""
    today = datetime.now(UTC).date()
    return Document.live.is_(True) & or_(Document.valid_until.is_(None), Document.valid_until >= today)


def pinned_documents(session: Session, category: str) -> list[Document]:
    """The documents pinned to `category`, in key order (public or not: the editors' view)."""
    stmt = (
        select(Document)
        .join(IvrPin, IvrPin.document_id == Document.id)
        .where(IvrPin.category == category)
        .order_by(IvrPin.position)
    )
    return list(session.scalars(stmt))


def set_pins(session: Session, category: str, document_ids: list[int], *, actor: str) -> list[Document]:
    """Replace the pins of `category` by `document_ids` in this order (audited). Only public documents,
    each once, at most MAX_PINS; an empty list unpins the category. Raises KbError (Chinese message)."""
    category = (category or "").strip()
    if not category or len(category) > 64:
        raise KbError("请选择语音菜单栏目。")
    if len(set(document_ids)) != len(document_ids):
        raise KbError("同一文档不能重复置顶。")
    if len(document_ids) > MAX_PINS:
        raise KbError(f"每个栏目最多置顶 {MAX_PINS} 篇文档。")
    documents = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(document_ids)))}
    missing = [str(i) for i in document_ids if i not in documents]
    if missing:
        raise KbError(f"文档不存在：{'、'.join(missing)}。")
    public = set(session.scalars(select(Document.id).where(Document.id.in_(document_ids), _public())))
    hidden = [documents[i].title for i in document_ids if i not in public]
    if hidden:
        raise KbError(f"只能置顶已发布且在有效期内的文档：{'、'.join(hidden)}。")
    before = [d.id for d in pinned_documents(session, category)]
    session.execute(delete(IvrPin).where(IvrPin.category == category))
    session.flush()
    for position, doc_id in enumerate(document_ids, 1):
        session.add(IvrPin(category=category, position=position, document_id=doc_id, pinned_by=actor))
    audit.record(session, actor=actor, action=AUDIT_ACTION, entity="kb_ivr_pins", entity_id=category,
                 detail={"before": before, "after": list(document_ids)})  # fmt: skip
    session.flush()
    return [documents[i] for i in document_ids]


def ivr_listing(session: Session, category: str, limit: int) -> list[tuple[int, str]]:
    """(id, title) of the listing the IVR reads for `category`: public pins in order, then the
    category's other public documents in a stable order, at most `limit`."""
    limit = max(1, limit)
    pinned = session.execute(
        select(Document.id, Document.title)
        .join(IvrPin, IvrPin.document_id == Document.id)
        .where(IvrPin.category == category, _public())
        .order_by(IvrPin.position)
        .limit(limit)
    ).all()
    listing = [(doc_id, title) for doc_id, title in pinned]
    if len(listing) < limit:
        taken = [doc_id for doc_id, _ in listing]
        rest = session.execute(
            select(Document.id, Document.title)
            .where(Document.category == category, _public(), Document.id.not_in(taken))
            .order_by(Document.published_at.is_(None), Document.published_at.desc(), Document.id)
            .limit(limit - len(listing))
        )
        listing += [(doc_id, title) for doc_id, title in rest]
    return listing
