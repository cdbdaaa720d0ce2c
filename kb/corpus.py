"""The corpus as a whole, for editors and the home page: re-filing the bundled policy collection on an
existing install (`recategorise`, the rules of kb.content), the corpus by category and year
(`corpus_overview`), retiring every expired document in one action (`retire_expired`) and the home
page's 热门问题 (`hot_questions`). Session first, flush only, audited."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.config import get_settings
from kb.content import RULED_PREFIX, classify, covid_expiry
from kb.documents import ENTITY, withdraw_document
from kb.importer import ImportRecord, import_batch
from kb.models import Document, Revision
from kb.retrieval import get_document
from kb.schemas import CATEGORIES, CONTENT_FIELDS, DocumentInput, DocumentView

RECATEGORISE_ACTION = "kb.recategorise"
RETIRE_ACTION = "kb.retire_expired"
RETIRE_COMMENT = "已过有效期，批量下线"
NO_YEAR = 0  # documents without a publication date, in the overview and the editors' list filter


@dataclass
class RecategoriseReport:
    before: Counter[str] = field(default_factory=Counter)
    after: Counter[str] = field(default_factory=Counter)
    changed: int = 0
    expired: int = 0
    skipped: list[str] = field(default_factory=list)  # external ids with an editor's work in progress


def recategorise(session: Session, *, actor: str) -> RecategoriseReport:
    """Apply `classify` and `covid_expiry` to the installed documents of the policy collection: a
    published document whose category or validity differs gets a new revision, published at once
    (kb.import's path, audited per document), and one kb.recategorise audit entry holds the counts.
    A document with a newer draft or in review is left to its editors (reported). Flushes only."""
    report = RecategoriseReport()
    records: list[ImportRecord] = []
    docs = session.scalars(select(Document).where(Document.external_id.like(RULED_PREFIX + "%")))
    for doc in docs:
        report.before[doc.category] += 1
        filing = classify(doc.title, doc.body)
        until = covid_expiry(filing.category, doc.title, doc.body) or doc.valid_until
        if filing.category == doc.category and until == doc.valid_until:
            report.after[doc.category] += 1
            continue
        if not (doc.live and doc.status == "published" and doc.published_revision_id is not None):
            report.after[doc.category] += 1
            report.skipped.append(doc.external_id)
            continue
        latest = _latest_revision_id(session, doc.id)
        if latest != doc.published_revision_id:
            report.after[doc.category] += 1
            report.skipped.append(doc.external_id)
            continue
        content: dict[str, Any] = _content(doc) | {"category": filing.category, "valid_until": until}
        records.append(ImportRecord(0, doc.external_id, DocumentInput(**content)))
        report.after[filing.category] += 1
        report.changed += 1
        report.expired += until is not None and until != doc.valid_until
    if records:
        import_batch(session, records, publish=True, actor=actor)
    audit.record(
        session,
        actor=actor,
        action=RECATEGORISE_ACTION,
        entity=ENTITY,
        entity_id="",
        comment=f"按规则重新分类 {report.changed} 篇，标记过期 {report.expired} 篇",
        detail={
            "before": dict(report.before),
            "after": dict(report.after),
            "changed": report.changed,
            "expired": report.expired,
            "skipped": report.skipped[:50],
        },
    )
    session.flush()
    return report


def _latest_revision_id(session: Session, doc_id: int) -> int | None:
    return session.scalar(
        select(Revision.id).where(Revision.document_id == doc_id).order_by(Revision.number.desc()).limit(1)
    )


def _content(doc: Any) -> dict[str, Any]:
    return {name: getattr(doc, name) for name in CONTENT_FIELDS}


# --- 热门问题 ---------------------------------------------------------------------------------------
HOT_CATEGORIES = ("常见问题", "办事指南")
HOT_QUESTIONS_FILE = "hot_questions.json"  # under data/kb: the curated questions, in order


@dataclass(frozen=True)
class HotQuestion:
    ask: str  # the question as citizens ask it (the curated wording, else the document's title)
    document: DocumentView


def curated_questions() -> dict[str, tuple[int, str]]:
    """external_id -> (position, question) from data/kb/hot_questions.json (none when it is missing)."""
    path = get_settings().data_dir / "kb" / HOT_QUESTIONS_FILE
    try:
        items = json.loads(path.read_text(encoding="utf-8"))["questions"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {str(item["external_id"]): (n, str(item["ask"])) for n, item in enumerate(items)}


def hot_questions(session: Session, limit: int = 9) -> list[HotQuestion]:
    """热门问题: public FAQ and service guides, the most read first; among equally read ones (on a fresh
    install none is read yet) the curated list's order, then the newest. Never news or notices."""
    curated = curated_questions()
    today = date.today()
    public = (
        Document.live.is_(True),
        or_(Document.valid_until.is_(None), Document.valid_until >= today),
        Document.category.in_(HOT_CATEGORIES),
    )
    read = session.scalars(
        select(Document).where(*public, Document.views > 0).order_by(Document.views.desc()).limit(limit)
    )
    listed = session.scalars(select(Document).where(*public, Document.external_id.in_(list(curated))))
    newest = session.scalars(select(Document).where(*public).order_by(Document.id.desc()).limit(limit))
    docs = {d.id: d for d in [*read, *listed, *newest]}
    last = len(curated)
    ranked = sorted(docs.values(), key=lambda d: (-d.views, curated.get(d.external_id, (last, ""))[0], -d.id))
    found = []
    for doc in ranked[: max(1, limit)]:
        view = get_document(session, doc.id)
        if view is not None:
            found.append(HotQuestion(curated.get(doc.external_id, (last, view.title))[1], view))
    return found


# --- the corpus by category and year -----------------------------------------------------------------
@dataclass(frozen=True)
class CorpusCell:
    total: int = 0
    public: int = 0  # published and valid
    expired: int = 0  # still published but past valid_until: to retire


@dataclass(frozen=True)
class CorpusOverview:
    years: list[int]  # newest first; NO_YEAR (no publication date) last
    categories: list[str]
    cells: dict[tuple[str, int], CorpusCell]
    by_category: dict[str, CorpusCell]
    total: CorpusCell
    expired_covid: int  # of the expired ones, COVID-era notices of the policy collection
    covid_pending: int = 0  # COVID-era notices still public: `recategorise` gives them their validity

    def cell(self, category: str, year: int) -> CorpusCell:
        return self.cells.get((category, year), CorpusCell())


def _add(cell: CorpusCell, public: bool, expired: bool) -> CorpusCell:
    return CorpusCell(cell.total + 1, cell.public + public, cell.expired + expired)


def corpus_overview(session: Session, today: date | None = None) -> CorpusOverview:
    """Counts of documents per category and publication year (all states), with the public and the
    expired (published, past valid_until) ones."""
    today = today or date.today()
    cells: dict[tuple[str, int], CorpusCell] = {}
    by_category: dict[str, CorpusCell] = {}
    total = CorpusCell()
    covid = 0
    rows = session.execute(
        select(
            Document.category,
            Document.published_at,
            Document.live,
            Document.valid_until,
            Document.external_id,
        )
    )
    for category, published_at, live, valid_until, external_id in rows:
        year = published_at.year if published_at else NO_YEAR
        expired = bool(live) and valid_until is not None and valid_until < today
        public = bool(live) and not expired
        key = (category, year)
        cells[key] = _add(cells.get(key, CorpusCell()), public, expired)
        by_category[category] = _add(by_category.get(category, CorpusCell()), public, expired)
        total = _add(total, public, expired)
        covid += expired and external_id.startswith(RULED_PREFIX)
    years = sorted({y for _, y in cells if y != NO_YEAR}, reverse=True)
    notices = session.execute(
        select(Document.category, Document.title, Document.body).where(
            Document.external_id.like(RULED_PREFIX + "%"), Document.live.is_(True), Document.valid_until.is_(None)
        )
    )
    pending = sum(covid_expiry(category, title, body) is not None for category, title, body in notices)
    if any(y == NO_YEAR for _, y in cells):
        years.append(NO_YEAR)
    known = [c for c in CATEGORIES if c in by_category]
    return CorpusOverview(
        years=years,
        categories=known + sorted(set(by_category) - set(known)),
        cells=cells,
        by_category=by_category,
        total=total,
        expired_covid=covid,
        covid_pending=pending,
    )


def expired_ids(session: Session, today: date | None = None) -> list[int]:
    """Published documents past their valid_until (hidden from readers already, still 已发布)."""
    today = today or date.today()
    stmt = select(Document.id).where(Document.live.is_(True), Document.valid_until < today)
    return list(session.scalars(stmt.order_by(Document.id)))


def retire_expired(session: Session, *, actor: str, today: date | None = None) -> int:
    """Withdraw every expired document through the workflow (kb.withdraw, audited per document) and
    record one kb.retire_expired entry with the count; returns how many were withdrawn."""
    ids = expired_ids(session, today)
    for doc_id in ids:
        withdraw_document(session, doc_id, actor=actor, comment=RETIRE_COMMENT)
    audit.record(
        session,
        actor=actor,
        action=RETIRE_ACTION,
        entity=ENTITY,
        entity_id="",
        comment=f"批量下线已过期文档 {len(ids)} 篇",
        detail={"count": len(ids), "ids": ids[:200]},
    )
    session.flush()
    return len(ids)
