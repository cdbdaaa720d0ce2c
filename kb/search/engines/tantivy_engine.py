"""tantivy (Rust, official Python bindings): pre-segmented terms, whitespace tokenizer, BM25."""

from __future__ import annotations

import fcntl
import math
import os
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import tantivy
from tantivy import FieldType, Occur, Query

from kb.search import schema as sch
from kb.search.engines import EngineHit
from kb.search.query import Filters, QueryPlan

WRITER_HEAP = 128_000_000
WRITE_LOCK_FILE = "hotline-write.lock"  # held by the process writing a batch (web workers, CLI)


def _prior(popularity: int) -> float:
    """tantivy multiplies scores by log2(2 + prior); choose prior so that equals 1 + w*ln(1+pop)."""
    return 2.0 ** (1.0 + sch.POPULARITY_WEIGHT * math.log1p(popularity)) - 2.0


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_integer_field("id", stored=True, indexed=True, fast=True)
    b.add_text_field("external_id", stored=True, tokenizer_name="raw")
    b.add_text_field("title_raw", stored=True, tokenizer_name="raw", index_option="basic")
    b.add_bytes_field("text", stored=True, indexed=False)
    b.add_text_field("category", tokenizer_name="raw", index_option="basic")
    b.add_text_field("department", tokenizer_name="raw", index_option="basic")
    b.add_integer_field("published", indexed=True, fast=True)
    b.add_integer_field("valid_until", indexed=True, fast=True)
    b.add_float_field("prior", fast=True)
    for name in sch.POSITIONAL_FIELDS:
        b.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    for name in sch.FREQ_FIELDS:
        b.add_text_field(name, tokenizer_name="whitespace", index_option="freq")
    b.add_text_field(sch.WORDPY_FIELD, tokenizer_name="whitespace", index_option="basic")
    return b.build()


class TantivyEngine:
    """One on-disk tantivy index; a writer per batch, committed atomically."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.schema = _schema()
        self.index = tantivy.Index(self.schema, path=str(directory), reuse=True)
        self._write_lock = threading.Lock()
        self._meta_mtime = self._meta_stamp()

    def close(self) -> None:
        """Nothing to release: tantivy files are memory-mapped and freed with the object."""

    # -- writing -------------------------------------------------------------------------
    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One writer at a time: threads of this process, then other processes (tantivy's own
        writer lock fails at once with LockBusy instead of waiting)."""
        with self._write_lock, open(self.directory / WRITE_LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            yield

    def _writer(self) -> tantivy.IndexWriter:
        return self.index.writer(heap_size=WRITER_HEAP, num_threads=1)

    def _commit(self, writer: tantivy.IndexWriter) -> None:
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self._meta_mtime = self._meta_stamp()

    @staticmethod
    def _add(writer: tantivy.IndexWriter, row: sch.Row) -> None:
        doc = tantivy.Document(
            id=row.id,
            external_id=row.external_id,
            title_raw=row.title,
            text=row.text.encode(),
            published=int(row.published),
            valid_until=row.valid_until,
            prior=_prior(row.popularity),
            **row.terms,
        )
        if row.category:
            doc.add_text("category", row.category)
        if row.department:
            doc.add_text("department", row.department)
        writer.add_document(doc)

    def upsert(self, rows: list[sch.Row]) -> None:
        with self._exclusive():
            writer = self._writer()
            for row in rows:
                writer.delete_documents_by_term("id", row.id)
                self._add(writer, row)
            self._commit(writer)

    def delete(self, ids: list[int]) -> None:
        with self._exclusive():
            writer = self._writer()
            for doc_id in ids:
                writer.delete_documents_by_term("id", int(doc_id))
            self._commit(writer)

    def replace(self, rows: Iterable[sch.Row]) -> None:
        """All documents at once: the new segments are written beside the old ones, which searches
        keep reading until the one commit swaps them (meta.json replaced atomically)."""
        with self._exclusive():
            writer = self._writer()
            try:
                writer.delete_all_documents()
                for row in rows:
                    self._add(writer, row)
            except BaseException:
                writer.rollback()
                raise
            self._commit(writer)

    # -- reading -------------------------------------------------------------------------
    def _meta_stamp(self) -> int:
        try:
            return os.stat(self.directory / "meta.json").st_mtime_ns
        except FileNotFoundError:
            return 0

    def refresh(self) -> None:
        """Pick up commits made by other processes (one stat of meta.json)."""
        stamp = self._meta_stamp()
        if stamp != self._meta_mtime:
            self.index.reload()
            self._meta_mtime = stamp

    def generation(self) -> object:
        """The loaded commit (its meta.json's modification time)."""
        return self._meta_mtime

    def _searcher(self) -> tantivy.Searcher:
        return self.index.searcher()

    def count(self) -> int:
        self.refresh()
        return self._searcher().num_docs

    def _term(self, field: str, term: str | int, boost: float = 1.0) -> Query:
        q = Query.term_query(self.schema, field, term, index_option="freq")
        return q if boost == 1.0 else Query.boost_query(q, boost)

    def _relevance(self, plan: QueryPlan) -> Query:
        clauses = [(Occur.Should, self._term(c.field, c.term, c.boost)) for c in plan.terms]
        for p in plan.phrases:
            phrase = Query.phrase_query(self.schema, p.field, [*p.words], slop=p.slop)
            clauses.append((Occur.Should, Query.boost_query(phrase, p.boost)))
        return Query.boolean_query(clauses)

    def _filters(self, filters: Filters) -> list[tuple[Occur, Query]]:
        must: list[tuple[Occur, Query]] = []
        if filters.category:
            must.append((Occur.Must, Query.term_query(self.schema, "category", filters.category)))
        if filters.department:
            must.append((Occur.Must, Query.term_query(self.schema, "department", filters.department)))
        if filters.public_only:
            must.append((Occur.Must, Query.term_query(self.schema, "published", 1)))
            expiry = Query.range_query(self.schema, "valid_until", FieldType.Integer, filters.today, None)
            must.append((Occur.Must, expiry))
        return [(occ, Query.const_score_query(q, 0.0)) for occ, q in must]

    def search(
        self, plan: QueryPlan, filters: Filters, limit: int, offset: int
    ) -> tuple[int, list[EngineHit]]:
        searcher = self._searcher()
        query = Query.boolean_query([(Occur.Must, self._relevance(plan)), *self._filters(filters)])
        result = searcher.search(query, limit=limit, offset=offset, count=True, weight_by_field="prior")
        count = result.count  # type: ignore[attr-defined]  # tantivy's stub lacks SearchResult.count
        return count or 0, [self._hit(searcher, score, addr) for score, addr in result.hits]

    @staticmethod
    def _hit(searcher: tantivy.Searcher, score: float, addr: tantivy.DocAddress) -> EngineHit:
        doc = searcher.doc(addr)
        return EngineHit(
            id=doc["id"][0],
            score=float(score),
            title=doc["title_raw"][0],
            text=bytes(doc["text"][0]).decode(),
        )

    def doc_freq(self, field: str, term: str) -> int:
        return self._searcher().doc_freq(field, term)

    def stored(self, field: str, term: str, limit: int) -> list[EngineHit]:
        searcher = self._searcher()
        result = searcher.search(self._term(field, term), limit=limit, count=False)
        return [self._hit(searcher, score, addr) for score, addr in result.hits]

    def titles_with_prefix(self, prefix: str, filters: Filters, limit: int) -> list[str]:
        searcher = self._searcher()
        regex = Query.regex_query(self.schema, "title_raw", re.escape(prefix) + ".*")
        query = Query.boolean_query([(Occur.Must, regex), *self._filters(filters)])
        result = searcher.search(query, limit=limit, count=False, weight_by_field="prior")
        return [searcher.doc(addr)["title_raw"][0] for _, addr in result.hits]
