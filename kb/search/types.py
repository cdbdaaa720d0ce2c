"""Plain data passed in and out of the search index."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class IndexDoc:
    """One knowledge-base document as the index sees it."""

    id: int
    external_id: str
    title: str
    category: str = ""
    department: str = ""
    keywords: list[str] = field(default_factory=list)
    question: str = ""
    answer: str = ""
    body: str = ""
    published: bool = True
    valid_until: date | None = None
    popularity: int = 0


@dataclass(frozen=True)
class IndexHit:
    """One ranked result; title_html and snippet_html are escaped HTML with matches in <mark>;
    relevance (0..1, kb.search.relevance) and whether it answers the query (above the threshold)."""

    id: int
    score: float
    title_html: str
    snippet_html: str
    relevance: float = 0.0
    answered: bool = False


@dataclass(frozen=True)
class SearchOutcome:
    """Total number of matching documents, the requested page of hits, and a "did you mean" text."""

    total: int
    hits: list[IndexHit]
    suggestion: str | None = None
