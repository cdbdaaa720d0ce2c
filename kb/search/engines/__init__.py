"""Storage and BM25 scoring: one module per engine, all with the same small surface."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from kb.search.query import Filters, QueryPlan
from kb.search.schema import Row


@dataclass(frozen=True)
class EngineHit:
    id: int
    score: float
    title: str
    text: str


class Engine(Protocol):
    """What kb.search.SearchIndex needs from an engine."""

    def upsert(self, rows: list[Row]) -> None: ...
    def delete(self, ids: list[int]) -> None: ...
    def replace(self, rows: Iterable[Row]) -> None: ...  # all documents, in one atomic commit
    def count(self) -> int: ...
    def search(
        self, plan: QueryPlan, filters: Filters, limit: int, offset: int
    ) -> tuple[int, list[EngineHit]]: ...
    def doc_freq(self, field: str, term: str) -> int: ...
    def stored(self, field: str, term: str, limit: int) -> list[EngineHit]: ...
    def close(self) -> None: ...
    def refresh(self) -> None: ...  # see commits made since (by any process); once per search
    def generation(self) -> object: ...  # changes whenever what searches see changes (after refresh)
    def titles_with_prefix(self, prefix: str, filters: Filters, limit: int) -> list[str]: ...
