"""Near-duplicate knowledge items: documents whose text is almost the same as another's.

GB/T 44191 asks for one knowledge item per matter; copies (the same notice republished by several
offices, an import run twice under new ids) split views and feedback and crowd search results.
Candidates come from the search index (the document's title and opening as the query, drafts
included); each is then compared on its whole current text by character-bigram Jaccard.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from hotline.textsim import bigrams, jaccard
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


def similar_documents(
    session: Session, doc_id: int, *, threshold: float = SIMILAR_THRESHOLD, limit: int = 5
) -> list[SimilarDocument]:
    """Other documents (any status) at least `threshold` similar to this one's working copy."""
    view = get_document(session, doc_id, include_unpublished=True)
    if view is None:
        return []
    query = f"{view.title} {(view.answer or view.body or '')[:QUERY_CHARS]}"
    hits = search(session, query, limit=CANDIDATES, include_unpublished=True, log_gaps=False).hits
    mine = bigrams(_text(view))
    found: list[SimilarDocument] = []
    for hit in hits:
        if hit.id == doc_id:
            continue
        other = get_document(session, hit.id, include_unpublished=True)
        if other is None:
            continue
        score = jaccard(mine, bigrams(_text(other)))
        if score >= threshold:
            found.append(SimilarDocument(other.id, other.title, other.status, round(score, 3)))
    found.sort(key=lambda s: -s.similarity)
    return found[:limit]
