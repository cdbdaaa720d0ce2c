"""Reading the knowledge base: search, document views, popular documents, views and feedback."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session, load_only

from hotline import attempts
from hotline.config import get_settings
from kb import curation, indexing
from kb.documents import content_of, latest_revision
from kb.errors import KbError
from kb.models import Document, Feedback
from kb.schemas import DocumentView, SearchHit, SearchResults
from kb.sections import split_sections

MAX_QUERY = 200
MAX_COMMENT = 1000
TOO_OFTEN = "提交过于频繁，请稍后再试。"
# what a hit needs of its document (not its texts: the index has them)
HIT_COLUMNS = (Document.external_id, Document.title, Document.category, Document.department,
               Document.live, Document.valid_until)  # fmt: skip


def search(
    session: Session,
    query: str,
    *,
    limit: int = 10,
    offset: int = 0,
    category: str | None = None,
    department: str | None = None,
    include_unpublished: bool = False,
    channel: str = "web",
    log_gaps: bool = True,
    client: str = "",
    semantic: bool | None = None,
) -> SearchResults:
    """Ranked documents for a query. The public (default) sees only published, valid documents;
    the database has the last word on that, so a document withdrawn a moment ago never shows.
    A query that finds no answer (no hit above the relevance threshold) is logged as a gap, up to an
    hourly number per client (its address). semantic: re-rank by meaning too (kb.search.semantic);
    by default for the channels of the setting search_semantic_channels when search_semantic is on."""
    text = " ".join((query or "").split())[:MAX_QUERY]
    if not text:
        return SearchResults(query=text, total=0, hits=[], suggestion=None)
    today = date.today()
    outcome = indexing.get_index().search(
        text,
        limit=max(1, min(limit, 100)),
        offset=max(offset, 0),
        category=category or None,
        department=department or None,
        public_only=not include_unpublished,
        synonyms=curation.synonym_lists(session),
        today=today,
        semantic=uses_semantic(channel) if semantic is None else semantic,
    )
    rows = {
        d.id: d
        for d in session.scalars(
            select(Document).options(load_only(*HIT_COLUMNS)).where(Document.id.in_([h.id for h in outcome.hits]))
        )
    }
    hits: list[SearchHit] = []
    dropped = 0
    for hit in outcome.hits:
        doc = rows.get(hit.id)
        if doc is None or (not include_unpublished and not doc.is_public(today)):
            dropped += 1
            continue
        hits.append(
            SearchHit(
                id=doc.id,
                external_id=doc.external_id,
                title=doc.title,
                category=doc.category,
                department=doc.department,
                score=round(float(hit.score), 4),
                snippet=hit.snippet_html,
                title_html=hit.title_html,
                relevance=hit.relevance,
                answered=hit.answered,
            )
        )
    total = max(outcome.total - dropped, len(hits))
    results = SearchResults(query=text, total=total, hits=hits, suggestion=outcome.suggestion)
    if offset <= 0 and not results.answered and log_gaps:
        record_unanswered(session, text, channel=channel, client=client)
    return results


def uses_semantic(channel: str) -> bool:
    """Whether searches of a channel (web, ivr, agent, cli, ...) are re-ranked by meaning too."""
    settings = get_settings()
    channels = {c.strip() for c in settings.search_semantic_channels.split(",")}
    return settings.search_semantic and (channel in channels or "all" in channels)


def record_unanswered(session: Session, query: str, *, channel: str, client: str = "") -> None:
    """A question its asker got no document for: a gap for the editors, up to an hourly number per
    client. The web logs it when no hit answers; the IVR when the caller heard no document."""
    if attempts.allow(session, "gap", client):
        curation.log_gap(session, query, channel)


def _view(doc: Document, content: dict, status: str) -> DocumentView:
    return DocumentView(
        id=doc.id,
        external_id=doc.external_id,
        title=content["title"],
        category=content["category"],
        department=content["department"],
        body=content["body"],
        question=content["question"],
        answer=content["answer"],
        keywords=list(content["keywords"] or []),
        source_url=content["source_url"],
        published_at=content["published_at"],
        valid_until=content["valid_until"],
        status=status,
        sections=split_sections(content["body"]),
        review_due=content["review_due"],
        views=doc.views,
        helpful_count=doc.helpful_count,
        unhelpful_count=doc.unhelpful_count,
    )


def get_document(session: Session, doc_id: int, *, include_unpublished: bool = False) -> DocumentView | None:
    """The public view of a published, valid document; with include_unpublished the editors' working
    copy (the newest revision) of any document."""
    doc = session.get(Document, doc_id)
    if doc is None:
        return None
    today = date.today()
    if include_unpublished:
        latest = latest_revision(session, doc)
        return _view(doc, content_of(latest or doc), doc.effective_status(today))
    if not doc.is_public(today):
        return None
    return _view(doc, content_of(doc), "published")


def _public(stmt: Select[Document], today: date) -> Select[Document]:
    return stmt.where(
        Document.live.is_(True), or_(Document.valid_until.is_(None), Document.valid_until >= today)
    )


def popular_documents(session: Session, category: str | None = None, limit: int = 9) -> list[DocumentView]:
    """The most viewed public documents (newest first among equals)."""
    stmt = _public(select(Document), date.today())
    if category:
        stmt = stmt.where(Document.category == category)
    rows = session.scalars(stmt.order_by(Document.views.desc(), Document.id.desc()).limit(max(1, limit)))
    return [_view(d, content_of(d), "published") for d in rows]


def record_view(session: Session, doc_id: int, channel: str, client: str = "") -> None:
    """Count one reading of a document (web, ivr, agent, ...); a client (address) past its hourly
    number of counted views reads on without being counted."""
    doc = session.get(Document, doc_id)
    if doc is None:
        raise KbError("文档不存在。")
    if not attempts.allow(session, "view", client):
        return
    _count(session, doc, views=Document.views + 1)


def _count(session: Session, doc: Document, **counters: Any) -> None:
    """Add to a document's reader counters without touching updated_at (the editors' 更新时间 is the
    time of an editorial change, not of a reading)."""
    session.execute(
        update(Document)
        .where(Document.id == doc.id)
        .values(updated_at=Document.updated_at, **counters)
        .execution_options(synchronize_session=False)
    )
    session.expire(doc, list(counters))


def record_feedback(
    session: Session, doc_id: int, helpful: bool, comment: str = "", client: str = "", query: str = ""
) -> Feedback:
    """A reader's "was this helpful" answer for a public document, with the search query that led
    them there (if any); refused past a client's (its address's) hourly number."""
    doc = session.get(Document, doc_id)
    if doc is None or not doc.is_public(date.today()):
        raise KbError("文档不存在或已下线。")
    if not attempts.allow(session, "feedback", client):
        raise KbError(TOO_OFTEN)
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise KbError(f"意见太长，请不超过 {MAX_COMMENT} 字。")
    query = " ".join((query or "").split())[:MAX_QUERY]
    entry = Feedback(document_id=doc.id, helpful=bool(helpful), comment=comment, query=query)
    session.add(entry)
    if helpful:
        _count(session, doc, helpful_count=Document.helpful_count + 1)
    else:
        _count(session, doc, unhelpful_count=Document.unhelpful_count + 1)
    session.flush()
    return entry


def suggest(session: Session, prefix: str, limit: int = 8) -> list[str]:
    """Titles of public documents starting with (or matching) what the reader has typed."""
    prefix = " ".join((prefix or "").split())[:MAX_QUERY]
    if not prefix:
        return []
    return indexing.get_index().suggest_titles(prefix, limit=max(1, min(limit, 20)))
