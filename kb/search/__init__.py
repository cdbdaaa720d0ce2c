"""Chinese full-text search behind a small engine-neutral interface.

    from kb.search import IndexDoc, open_index
    index = open_index(directory, engine="tantivy")   # or "whoosh"
    index.upsert(docs); index.delete(ids); index.rebuild(docs); index.clear(); index.count()
    index.search(query, limit=10, offset=0, category=None, department=None, public_only=True,
                 synonyms=(), today=None) -> SearchOutcome(total, hits, suggestion)
    index.suggest_titles(prefix, limit=8) -> list[str]

Layers (like whoosh): `analysis` (jieba, folding, stop words, pinyin), `schema` (fields and
boosts), `query` (rewriting: synonyms, pinyin fallback, did-you-mean), `engines/` (tantivy,
whoosh: storage and BM25 scoring), `highlight` (escaped snippets with <mark>).
"""

from __future__ import annotations

from kb.search.index import ENGINES, SearchIndex, open_index
from kb.search.types import IndexDoc, IndexHit, SearchOutcome

__all__ = ["ENGINES", "IndexDoc", "IndexHit", "SearchIndex", "SearchOutcome", "open_index"]
