"""Near-duplicate knowledge items: documents whose text is almost the same as another's.

GB/T 44191 asks for one knowledge item per matter; copies (the same notice republished by several
offices, an import run twice under new ids) split views and feedback and crowd search results.
Candidates come from the search index (the document's title and opening as the query, drafts
included); each is then compared on its whole current text by character-bigram Jaccard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.textsim import bigrams, jaccard
from kb.models import Document
from kb.retrieval import get_document, search
from kb.schemas import DocumentView

SIMILAR_THRESHOLD = 0.6  # share of common character bigrams from which two items count as copies
CANDIDATES = 20
QUERY_CHARS = 120  # of the body, after the title, to find candidates with


@dataclass(frozen=True)
class SimilarDocument:
    id: int
    title: str
    status: str
    similarity: float  # 0..1


def _text(view: DocumentView) -> str:
    return "\n".join(part for part in (view.title, view.question, view.answer, view.body) if part)


def _candidates(session: Session, view: DocumentView) -> list[int]:
    """Ids the index ranks highest for the document's title and opening (drafts included)."""
    query = f"{view.title} {(view.answer or view.body or '')[:QUERY_CHARS]}"
    hits = search(session, query, limit=CANDIDATES, include_unpublished=True, log_gaps=False).hits
    return [hit.id for hit in hits if hit.id != view.id]


def similar_documents(
    session: Session, doc_id: int, *, threshold: float = SIMILAR_THRESHOLD, limit: int = 5
) -> list[SimilarDocument]:
    """Other documents (any status) at least `threshold` similar to this one's working copy."""
    view = get_document(session, doc_id, include_unpublished=True)
    if view is None:
        return []
    mine = bigrams(_text(view))
    found: list[SimilarDocument] = []
    for other_id in _candidates(session, view):
        other = get_document(session, other_id, include_unpublished=True)
        if other is None:
            continue
        score = jaccard(mine, bigrams(_text(other)))
        if score >= threshold:
            found.append(SimilarDocument(other.id, other.title, other.status, round(score, 3)))
    found.sort(key=lambda s: -s.similarity)
    return found[:limit]


def duplicate_groups(
    session: Session,
    *,
    threshold: float = SIMILAR_THRESHOLD,
    progress: Callable[[], None] | None = None,
) -> list[list[SimilarDocument]]:
    """Groups of near-identical documents across the knowledge base (each group's members at least
    `threshold` similar to one another, transitively), largest first. `progress` is called per document."""
    views = {}
    for doc_id in session.scalars(select(Document.id).order_by(Document.id)):
        view = get_document(session, doc_id, include_unpublished=True)
        if view is not None:
            views[doc_id] = view
    grams = {doc_id: bigrams(_text(view)) for doc_id, view in views.items()}
    parent = {doc_id: doc_id for doc_id in views}

    def root(doc_id: int) -> int:
        while parent[doc_id] != doc_id:
            parent[doc_id] = parent[parent[doc_id]]
            doc_id = parent[doc_id]
        return doc_id

    best: dict[int, float] = {}
    for doc_id, view in views.items():
        for other_id in _candidates(session, view):
            if other_id in grams and (score := jaccard(grams[doc_id], grams[other_id])) >= threshold:
                parent[root(other_id)] = root(doc_id)
                best[doc_id] = max(best.get(doc_id, 0.0), score)
                best[other_id] = max(best.get(other_id, 0.0), score)
        if progress is not None:
            progress()
    groups: dict[int, list[SimilarDocument]] = {}
    for doc_id in best:
        view = views[doc_id]
        groups.setdefault(root(doc_id), []).append(
            SimilarDocument(view.id, view.title, view.status, round(best[doc_id], 3))
        )
    return sorted(groups.values(), key=lambda g: (-len(g), g[0].id))
