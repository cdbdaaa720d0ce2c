"""SearchIndex: query rewriting, filters, ranking and highlighting over a chosen engine."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np

from kb.search import analysis, highlight, query, schema
from kb.search.engines import Engine, EngineHit
from kb.search.passages import PassageScorer
from kb.search.relevance import Relevance
from kb.search.semantic import VectorStore, unit_text
from kb.search.types import IndexDoc, IndexHit, SearchOutcome

ENGINES = ("tantivy", "whoosh")
UPSERT_BATCH = 5000
KNOWN_FIELDS = (schema.BODY_FIELD, schema.TITLE_FIELD)
RESULTS_CACHED = 2048  # recent outcomes kept per process (citizens ask the same questions again and again)


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

    def __init__(
        self,
        directory: Path,
        engine: str = "tantivy",
        *,
        results_cached: int = RESULTS_CACHED,
        semantic: VectorStore | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.results_cached = results_cached
        self.engine_name = engine
        self.engine = _make_engine(self.directory / engine, engine)
        self.semantic = semantic  # the documents' sentence vectors (kb.search.semantic), when kept
        self._cache: OrderedDict[tuple[object, ...], SearchOutcome] = OrderedDict()  # least recent first
        self._cache_lock = threading.Lock()

    def warm(self) -> None:
        """Load what the first document indexed would (jieba's dictionaries, pypinyin; the semantic
        model when on) by analysing a sample, indexing nothing: the change feed's first change after a
        start is then applied as fast as the rest (kb.feed.Applier.warm)."""
        sample = IndexDoc(id=0, external_id="", title="居住证办理指南", category="办事指南", department="",
                          keywords=["居住证"], question="怎样办理居住证？", answer="", body="申请条件与办理流程。",
                          published=True, valid_until=None, popularity=0)  # fmt: skip
        schema.prepare(sample)
        if self.semantic is not None:
            self.semantic.embed_query(sample.title)

    def upsert(self, docs: Iterable[IndexDoc]) -> None:
        """Add or replace documents (by id); each batch is committed atomically."""
        batch: list[IndexDoc] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= UPSERT_BATCH:
                self._upsert(batch)
                batch = []
        if batch:
            self._upsert(batch)

    def _upsert(self, docs: list[IndexDoc]) -> None:
        if self.semantic is not None:
            self.semantic.upsert(docs)  # first: embedding new units is the slow part
        self.engine.upsert([schema.prepare(doc) for doc in docs])

    def delete(self, ids: Iterable[int]) -> None:
        ids = [int(i) for i in ids]
        if ids:
            self.engine.delete(ids)
            if self.semantic is not None:
                self.semantic.delete(ids)

    def rebuild(self, docs: Iterable[IndexDoc]) -> None:
        """Replace every document by these, in one commit: searches meanwhile find the old ones."""
        units: list[tuple[int, str]] = []  # (id, semantic unit) of the published documents

        def prepared() -> Iterator[schema.Row]:
            for doc in docs:
                if doc.published and self.semantic is not None:
                    units.append((doc.id, unit_text(doc)))
                yield schema.prepare(doc)

        self.engine.replace(prepared())
        if self.semantic is not None:
            self.semantic.replace(units)

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
        semantic: bool = False,
    ) -> SearchOutcome:
        """Ranked, filtered, highlighted results, each with its relevance and whether it answers the
        query (relevance >= schema.ANSWER_THRESHOLD), and a "did you mean" suggestion. The same search
        on the same commit of the index is answered from a cache (the last `results_cached` outcomes).
        semantic: re-rank the candidates by meaning too (prefer_meaning; costs the embedding of the
        query, ~90 ms on one thread) when the index keeps vectors; public searches only (drafts have none)."""
        self.engine.refresh()
        text = analysis.fold_query(query_text or "").strip()
        today = today or date.today()
        semantic = semantic and public_only and self.semantic is not None and bool(text)
        if not self.results_cached:
            return self._search(
                text, limit, offset, category, department, public_only, synonyms, today, semantic
            )
        key = (
            text, limit, offset, category, department, public_only, tuple(map(tuple, synonyms)), today,
            self.engine.generation(), semantic and self._semantic_generation(),
        )  # fmt: skip
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        outcome = self._search(
            text, limit, offset, category, department, public_only, synonyms, today, semantic
        )
        with self._cache_lock:
            self._cache[key] = outcome
            while len(self._cache) > self.results_cached:
                self._cache.popitem(last=False)
        return outcome

    def _search(
        self,
        text: str,
        limit: int,
        offset: int,
        category: str | None,
        department: str | None,
        public_only: bool,
        synonyms: Sequence[Sequence[str]],
        today: date,
        semantic: bool = False,
    ) -> SearchOutcome:
        filters = query.Filters(
            category=category or None,
            department=department or None,
            public_only=public_only,
            today=today.toordinal(),
        )
        limit, offset = max(1, limit), max(0, offset)
        sounds_like = self.suggest_spelling(text)
        meaning = self.semantic.embed_query(text) if semantic and self.semantic is not None else None
        total, page = self._ranked(text, synonyms, filters, limit, offset, sounds_like is not None, meaning)
        suggestion = None
        if sounds_like and offset == 0:
            suggestion = self._better_spelling(sounds_like, synonyms, filters, page)
        return SearchOutcome(total=total, hits=page, suggestion=suggestion)

    def _ranked(
        self,
        text: str,
        synonyms: Sequence[Sequence[str]],
        filters: query.Filters,
        limit: int,
        offset: int,
        homophones: bool,
        meaning: np.ndarray | None = None,
    ) -> tuple[int, list[IndexHit]]:
        """Total matches and one page of ranked, highlighted hits with their relevance.

        A query typed in pinyin is searched by its reading; one that sounds like indexed words it
        does not spell (homophones) or finds nothing is searched by pinyin too, so homophone typos
        and speech-recognition output still find documents. `meaning`: the query's sentence vector
        (kb.search.semantic), when the candidates are re-ranked by meaning too.
        """
        reading = analysis.pinyin_reading(text, self._is_word, self._has_initials)
        doc_ratio = self._doc_ratio()
        plan = query.build(text, synonyms, with_pinyin=homophones, doc_ratio=doc_ratio, reading=reading)
        if plan.empty:
            return 0, []
        window = max(offset + limit, schema.RERANK_WINDOW)
        total, found = self.engine.search(plan, filters, window, 0)
        if total == 0 and not homophones:
            plan = query.build(text, synonyms, with_pinyin=True, doc_ratio=doc_ratio, reading=reading)
            total, found = self.engine.search(plan, filters, window, 0)
        found = self._rerank(text, found, meaning)[offset : offset + limit]
        marker = highlight.Highlighter(plan.marks)
        judge = self.relevance(text, reading)
        hits = []
        for h in found:
            score = round(judge.score(h.title, h.text), 3)
            hits.append(
                IndexHit(
                    id=h.id,
                    score=h.score,
                    title_html=marker.mark(h.title),
                    snippet_html=marker.snippet(h.text),
                    relevance=score,
                    answered=score >= schema.ANSWER_THRESHOLD,
                )
            )
        return total, hits

    def relevance(self, text: str, reading: tuple[Sequence[str], Sequence[str]] = ((), ())) -> Relevance:
        """The relevance scorer of a folded query (kb.search.relevance)."""
        total = max(1, self.engine.count())
        return Relevance(text, reading, self.engine.doc_freq, total, schema.GRAMS_FIELD, schema.BODY_FIELD)

    def _better_spelling(
        self,
        candidate: str,
        synonyms: Sequence[Sequence[str]],
        filters: query.Filters,
        page: list[IndexHit],
    ) -> str | None:
        """ "Did you mean": the spelling that sounds the same (query.did_you_mean: never for a query
        whose words are all known), when it finds an answer clearly better (schema.SUGGESTION_MARGIN
        more relevance) than the query's best hit."""
        _, hits = self._ranked(candidate, synonyms, filters, 3, 0, False)
        best = max((h.relevance for h in page), default=0.0)
        better = [h for h in hits if h.answered and h.relevance >= best + schema.SUGGESTION_MARGIN]
        return candidate if better else None

    def _rerank(self, text: str, hits: list[EngineHit], meaning: np.ndarray | None = None) -> list[EngineHit]:
        """The best schema.RERANK_WINDOW candidates re-ranked by the places the question names, by
        passage evidence and (given the query's vector) by meaning; the rest keep the engine's order,
        so pages stay consistent."""
        head, tail = hits[: schema.RERANK_WINDOW], hits[schema.RERANK_WINDOW :]
        if not head:
            return hits
        places = analysis.places(analysis.tokens(text)) if schema.PLACE_PENALTY < 1 else []
        if places:
            head = prefer_places(head, places)
        if schema.PASSAGE_WEIGHT:
            head = prefer_passages(head, self._bigram_weights(text))
        if meaning is not None and self.semantic is not None and schema.SEMANTIC_WEIGHT:
            head = prefer_meaning(head, self.semantic.similarities(meaning, [h.id for h in head]))
        return head + tail

    def _semantic_generation(self) -> object:
        if self.semantic is None:
            return None
        self.semantic.refresh()
        return self.semantic.generation()

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
        return query.did_you_mean(query_text, self._is_known, self._word_for_pinyin, self._is_unseen)

    def _doc_ratio(self) -> Callable[[str], float]:
        """Share of indexed documents whose text has a word (for choosing phrase clauses)."""
        total = max(1, self.engine.count())
        return lambda word: self.engine.doc_freq(schema.BODY_FIELD, word) / total

    def _is_known(self, word: str) -> bool:
        return any(self.engine.doc_freq(field, word) > 0 for field in KNOWN_FIELDS)

    def _is_word(self, word: str) -> bool:
        return self.engine.doc_freq(schema.BODY_FIELD, word) > 0

    def _has_initials(self, letters: str) -> bool:
        return self.engine.doc_freq(schema.WORDPY_FIELD, letters) > 0

    def _is_unseen(self, bigram: str) -> bool:
        return self.engine.doc_freq(schema.GRAMS_FIELD, bigram) == 0

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


def prefer_meaning(hits: list[EngineHit], similarities: Sequence[float | None]) -> list[EngineHit]:
    """Re-rank the best schema.SEMANTIC_WINDOW candidates by meaning: each gains schema.SEMANTIC_WEIGHT
    x the best score x how much closer in meaning to the question it is than the others (z-score of
    its vector's cosine similarity among them; a candidate without a vector counts as average)."""
    head, tail = hits[: schema.SEMANTIC_WINDOW], hits[schema.SEMANTIC_WINDOW :]
    known = [s for s in similarities[: len(head)] if s is not None]
    if len(known) < 2:
        return hits
    mean = sum(known) / len(known)
    spread = math.sqrt(sum((s - mean) ** 2 for s in known) / len(known)) or 1.0
    lift = schema.SEMANTIC_WEIGHT * max(h.score for h in head)
    scored = [
        replace(h, score=h.score + lift * ((mean if s is None else s) - mean) / spread)
        for h, s in zip(head, similarities, strict=False)
    ]
    return sorted(scored, key=lambda h: -h.score) + tail


def open_index(
    directory: Path,
    engine: str = "tantivy",
    *,
    results_cached: int = RESULTS_CACHED,
    semantic: bool = False,
    bundled_vectors: Path | None = None,
    semantic_threads: int = 1,
) -> SearchIndex:
    """Open (creating if needed) the index of the given engine under `directory`; `results_cached`
    outcomes are kept for repeated searches (0: none). semantic: keep the published documents'
    sentence vectors too (in `directory/semantic`), found again in `bundled_vectors` when unchanged."""
    store = None
    if semantic:
        store = VectorStore(Path(directory) / "semantic", bundled=bundled_vectors, threads=semantic_threads)
    return SearchIndex(Path(directory), engine, results_cached=results_cached, semantic=store)
