"""SearchIndex: query rewriting, filters, ranking and highlighting over a chosen engine."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

from kb.search import analysis, highlight, query, schema
from kb.search.engines import Engine, EngineHit
from kb.search.passages import PassageScorer
from kb.search.types import IndexDoc, IndexHit, SearchOutcome

ENGINES = ("tantivy", "whoosh")
UPSERT_BATCH = 5000
KNOWN_FIELDS = (schema.BODY_FIELD, schema.TITLE_FIELD)


def _make_engine(directory: Path, engine: str) -> Engine:
    if engine == "tantivy":
        from kb.search.engines.tantivy_engine import TantivyEngine

        return TantivyEngine(directory)
    if engine == "whoosh":
        from kb.search.engines.whoosh_engine import WhooshEngine

        return WhooshEngine(directory)
    raise ValueError(f"unknown search engine {engine!r}; choose one of {', '.join(ENGINES)}")


class SearchIndex:
    """A full-text index of knowledge-base documents in one directory (one sub-directory per engine)."""

    def __init__(self, directory: Path, engine: str = "tantivy") -> None:
        self.directory = Path(directory)
        self.engine_name = engine
        self.engine = _make_engine(self.directory / engine, engine)

    def upsert(self, docs: Iterable[IndexDoc]) -> None:
        """Add or replace documents (by id); each batch is committed atomically."""
        batch: list[schema.Row] = []
        for doc in docs:
            batch.append(schema.prepare(doc))
            if len(batch) >= UPSERT_BATCH:
                self.engine.upsert(batch)
                batch = []
        if batch:
            self.engine.upsert(batch)

    def delete(self, ids: Iterable[int]) -> None:
        ids = [int(i) for i in ids]
        if ids:
            self.engine.delete(ids)

    def rebuild(self, docs: Iterable[IndexDoc]) -> None:
        """Replace every document by these, in one commit: searches meanwhile find the old ones."""
        self.engine.replace(schema.prepare(doc) for doc in docs)

    def clear(self) -> None:
        self.rebuild([])

    def count(self) -> int:
        return self.engine.count()

    def search(
        self,
        query_text: str,
        *,
        limit: int = 10,
        offset: int = 0,
        category: str | None = None,
        department: str | None = None,
        public_only: bool = True,
        synonyms: Sequence[Sequence[str]] = (),
        today: date | None = None,
    ) -> SearchOutcome:
        """Ranked, filtered, highlighted results and a "did you mean" suggestion.

        A query that sounds like indexed words it does not spell (or finds nothing) is searched
        by pinyin too, so homophone typos and speech-recognition output still find documents.
        """
        self.engine.refresh()
        text = analysis.fold_query(query_text or "").strip()
        filters = query.Filters(
            category=category or None,
            department=department or None,
            public_only=public_only,
            today=(today or date.today()).toordinal(),
        )
        suggestion = self.suggest_spelling(text)
        doc_ratio = self._doc_ratio()
        plan = query.build(text, synonyms, with_pinyin=suggestion is not None, doc_ratio=doc_ratio)
        if plan.empty:
            return SearchOutcome(total=0, hits=[], suggestion=suggestion)
        limit, offset = max(1, limit), max(0, offset)
        window = max(offset + limit, schema.RERANK_WINDOW)
        total, found = self.engine.search(plan, filters, window, 0)
        if total == 0 and suggestion is None:
            plan = query.build(text, synonyms, with_pinyin=True, doc_ratio=doc_ratio)
            total, found = self.engine.search(plan, filters, window, 0)
        found = self._rerank(text, found)[offset : offset + limit]
        marker = highlight.Highlighter(plan.marks)
        hits = [
            IndexHit(
                id=h.id, score=h.score, title_html=marker.mark(h.title), snippet_html=marker.snippet(h.text)
            )
            for h in found
        ]
        return SearchOutcome(total=total, hits=hits, suggestion=suggestion)

    def _rerank(self, text: str, hits: list[EngineHit]) -> list[EngineHit]:
        """The best schema.RERANK_WINDOW candidates re-ranked by the places the question names and
        by passage evidence; the rest keep the engine's order, so pages stay consistent."""
        head, tail = hits[: schema.RERANK_WINDOW], hits[schema.RERANK_WINDOW :]
        if not head:
            return hits
        places = analysis.places(analysis.tokens(text)) if schema.PLACE_PENALTY < 1 else []
        if places:
            head = prefer_places(head, places)
        if schema.PASSAGE_WEIGHT:
            head = prefer_passages(head, self._bigram_weights(text))
        return head + tail

    def _bigram_weights(self, text: str) -> dict[str, float]:
        """IDF of the query's bigrams over the grams field (bigrams in no document left out)."""
        total = max(1, self.engine.count())
        weights: dict[str, float] = {}
        for gram in dict.fromkeys(analysis.query_bigrams(text)):
            df = self.engine.doc_freq(schema.GRAMS_FIELD, gram)
            if df:
                weights[gram] = math.log(1 + (total - df + 0.5) / (df + 0.5))
        return weights

    def suggest_spelling(self, query_text: str) -> str | None:
        """ "Did you mean": replace unknown runs that sound like an indexed title/keyword word."""
        return query.did_you_mean(query_text, self._is_known, self._word_for_pinyin)

    def _doc_ratio(self) -> Callable[[str], float]:
        """Share of indexed documents whose text has a word (for choosing phrase clauses)."""
        total = max(1, self.engine.count())
        return lambda word: self.engine.doc_freq(schema.BODY_FIELD, word) / total

    def _is_known(self, word: str) -> bool:
        return any(self.engine.doc_freq(field, word) > 0 for field in KNOWN_FIELDS)

    def _word_for_pinyin(self, pinyin: str) -> str | None:
        if not pinyin or self.engine.doc_freq(schema.WORDPY_FIELD, pinyin) == 0:
            return None
        for hit in self.engine.stored(schema.WORDPY_FIELD, pinyin, limit=3):
            for word in analysis.tokens(f"{hit.title} {hit.text[:300]}"):
                if analysis.pinyin_of(word) == pinyin:
                    return word
        return None

    def suggest_titles(self, prefix: str, limit: int = 8) -> list[str]:
        """Public titles starting with the prefix (most popular first), then titles matching its words."""
        prefix = (prefix or "").strip()
        if not prefix:
            return []
        self.engine.refresh()
        filters = query.Filters(today=date.today().toordinal())
        titles = list(dict.fromkeys(self.engine.titles_with_prefix(prefix, filters, limit)))
        if len(titles) < limit:
            for hit in self.search(prefix, limit=limit * 2).hits:
                title = highlight.strip_marks(hit.title_html)
                if title not in titles:
                    titles.append(title)
        return titles[:limit]

    def close(self) -> None:
        """Release the engine's open files (the index stays on disk)."""
        self.engine.close()


def prefer_places(hits: list[EngineHit], places: list[str]) -> list[EngineHit]:
    """Re-rank candidates for a question naming places: those naming none of them score
    schema.PLACE_PENALTY times less, provided some candidate names one (else the order stays)."""
    names = [any(p in h.title or p in h.text for p in places) for h in hits]
    if not any(names):
        return hits
    scored = [
        replace(h, score=h.score * (1.0 if named else schema.PLACE_PENALTY))
        for h, named in zip(hits, names, strict=True)
    ]
    return sorted(scored, key=lambda h: -h.score)


def prefer_passages(hits: list[EngineHit], weights: dict[str, float]) -> list[EngineHit]:
    """Re-rank candidates by passage evidence: each gains schema.PASSAGE_WEIGHT x the best score x
    the share of the question it covers in its title and one passage (kb.search.passages)."""
    scorer = PassageScorer(weights)
    if not scorer.total:
        return hits
    lift = schema.PASSAGE_WEIGHT * max(h.score for h in hits)
    scored = [
        replace(h, score=h.score + lift * scorer.coverage(h.title, h.text, schema.PASSAGE_WIDTH))
        for h in hits
    ]
    return sorted(scored, key=lambda h: -h.score)


def open_index(directory: Path, engine: str = "tantivy") -> SearchIndex:
    """Open (creating if needed) the index of the given engine under `directory`."""
    return SearchIndex(Path(directory), engine)
