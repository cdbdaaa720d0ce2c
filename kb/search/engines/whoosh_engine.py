"""whoosh (whoosh-reloaded, pure Python): the design's named index, BM25F over the same terms.

Documents arrive already segmented by kb.search.analysis (jieba, folding, stop words, pinyin), so
the fields use a whitespace tokenizer: the Chinese analysis is shared with the other engines.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from pathlib import Path

from whoosh import index as windex
from whoosh import query as wq
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.fields import ID, NUMERIC, STORED, TEXT, Schema
from whoosh.scoring import BM25F

from kb.search import schema as sch
from kb.search.engines import EngineHit
from kb.search.query import Filters, QueryPlan

WRITE_LOCK_TIMEOUT = 30.0


def _schema() -> Schema:
    terms = SpaceSeparatedTokenizer()
    fields = {
        "id": ID(stored=True, unique=True),
        "title_raw": ID(stored=True),
        "text": STORED(),
        "category": ID(),
        "department": ID(),
        "published": ID(),
        "valid_until": NUMERIC(numtype=int, bits=64),
        "popularity": NUMERIC(numtype=int, bits=64, sortable=True),
        sch.WORDPY_FIELD: TEXT(analyzer=terms, phrase=False),
    }
    for name in sch.POSITIONAL_FIELDS:
        fields[name] = TEXT(analyzer=terms, phrase=True)
    for name in sch.FREQ_FIELDS:
        fields[name] = TEXT(analyzer=terms, phrase=False)
    return Schema(**fields)


class PopularityBM25F(BM25F):
    """BM25F times the mild popularity prior 1 + w * ln(1 + popularity)."""

    use_final = True

    def final(self, searcher, docnum, score):  # noqa: ANN001, ANN201 - whoosh's signature
        column = searcher.reader().column_reader("popularity")
        return score * (1.0 + sch.POPULARITY_WEIGHT * math.log1p(max(0, column[docnum] or 0)))


class WhooshEngine:
    """One on-disk whoosh index; each batch is one atomic commit (a new table of contents)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if windex.exists_in(str(directory)):
            self.index = windex.open_dir(str(directory))
        else:
            self.index = windex.create_in(str(directory), _schema())
        self._weighting = PopularityBM25F(B=sch.BM25_B, K1=sch.BM25_K1)
        self._searcher = self.index.searcher(weighting=self._weighting)
        self._lock = threading.Lock()  # guards self._searcher
        self._generation = 0  # searchers opened since (see generation())
        self._write_lock = threading.Lock()  # one writer thread (whoosh's file lock is per process)

    def close(self) -> None:
        with self._lock:
            self._searcher.close()

    # -- writing -------------------------------------------------------------------------
    def _write(self, action) -> None:  # noqa: ANN001
        with self._write_lock:
            writer = self.index.writer(timeout=WRITE_LOCK_TIMEOUT)
            try:
                action(writer)
            except BaseException:
                writer.cancel()
                raise
            writer.commit()

    @staticmethod
    def _add(writer, row: sch.Row, *, update: bool) -> None:  # noqa: ANN001
        (writer.update_document if update else writer.add_document)(
            id=str(row.id),
            title_raw=row.title,
            text=row.text,
            category=row.category or None,
            department=row.department or None,
            published="1" if row.published else "0",
            valid_until=row.valid_until,
            popularity=row.popularity,
            **row.terms,
        )

    def upsert(self, rows: list[sch.Row]) -> None:
        self._write(lambda writer: [self._add(writer, row, update=True) for row in rows])

    def delete(self, ids: list[int]) -> None:
        self._write(lambda writer: [writer.delete_by_term("id", str(i)) for i in ids])

    def replace(self, rows: Iterable[sch.Row]) -> None:
        """All documents at once, in one commit: searches read the old segments until it swaps the
        table of contents."""

        def action(writer) -> None:  # noqa: ANN001
            writer.delete_by_query(wq.Every())
            for row in rows:
                self._add(writer, row, update=False)

        self._write(action)

    # -- reading -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Pick up commits made since the searcher was opened (by any process)."""
        with self._lock:
            if not self._searcher.up_to_date():
                self._searcher.close()
                self._searcher = self.index.searcher(weighting=self._weighting)
                self._generation += 1

    def generation(self) -> object:
        """How many times the searcher was reopened on newer commits."""
        return self._generation

    def _current(self):  # noqa: ANN202
        return self._searcher

    def count(self) -> int:
        self.refresh()
        return self._current().doc_count()

    @staticmethod
    def _relevance(plan: QueryPlan) -> wq.Query:
        clauses: list[wq.Query] = [wq.Term(c.field, c.term, boost=c.boost) for c in plan.terms]
        # whoosh's slop counts positions between words from 1 (adjacent), tantivy's from 0.
        clauses.extend(wq.Phrase(p.field, p.words, slop=p.slop + 1, boost=p.boost) for p in plan.phrases)
        return wq.Or(clauses)

    @staticmethod
    def _filter(filters: Filters) -> wq.Query | None:
        must: list[wq.Query] = []
        if filters.category:
            must.append(wq.Term("category", filters.category))
        if filters.department:
            must.append(wq.Term("department", filters.department))
        if filters.public_only:
            must.append(wq.Term("published", "1"))
            must.append(wq.NumericRange("valid_until", filters.today, None))
        return wq.And(must) if must else None

    def search(
        self, plan: QueryPlan, filters: Filters, limit: int, offset: int
    ) -> tuple[int, list[EngineHit]]:
        searcher = self._current()
        results = searcher.search(self._relevance(plan), filter=self._filter(filters), limit=offset + limit)
        hits = [self._hit(hit.fields(), hit.score) for hit in results[offset : offset + limit]]
        return len(results), hits

    @staticmethod
    def _hit(fields: dict, score: float) -> EngineHit:
        return EngineHit(
            id=int(fields["id"]), score=float(score), title=fields["title_raw"], text=fields["text"]
        )

    def doc_freq(self, field: str, term: str) -> int:
        return self._current().doc_frequency(field, term)

    def stored(self, field: str, term: str, limit: int) -> list[EngineHit]:
        results = self._current().search(wq.Term(field, term), limit=limit)
        return [self._hit(hit.fields(), hit.score) for hit in results]

    def titles_with_prefix(self, prefix: str, filters: Filters, limit: int) -> list[str]:
        searcher = self._current()
        results = searcher.search(
            wq.Prefix("title_raw", prefix),
            filter=self._filter(filters),
            limit=limit,
            sortedby="popularity",
            reverse=True,
        )
        return [hit["title_raw"] for hit in results]
