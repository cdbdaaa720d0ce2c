"""How well a hit answers a query: the calibrated score behind "answered" (see schema.ANSWER_THRESHOLD).

A query is a set of units (its Chinese character bigrams, its other words, the syllable bigrams
and initials of what it types in pinyin), each weighted by its IDF; a unit found in no document
weighs the most, since the knowledge base says nothing about it. A hit's relevance is the share
of that weight found in its title or one passage of its text (kb.search.passages): near 1 for a
document about the question, low for one that shares a common word or two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from kb.search import analysis
from kb.search.passages import PassageScorer
from kb.search.schema import PASSAGE_WIDTH

READING_CHARS = 120  # the start of a hit's text read for pinyin (an FAQ's question, a lead)
# IDF as if the index held at least this many documents: in a small knowledge base (a new centre, a
# test) a word in no document would otherwise outweigh one in a single document many times over.
MIN_DOCUMENTS = 1000


def idf(df: int, total: int) -> float:
    """BM25's IDF of a term in df of total documents."""
    return math.log(1 + (total - df + 0.5) / (df + 0.5))


class Relevance:
    """A query's units and weights, scored against hits (built once per query)."""

    def __init__(
        self,
        text: str,
        reading: tuple[Sequence[str], Sequence[str]],
        doc_freq: Callable[[str, str], int],
        total: int,
        grams_field: str,
        words_field: str,
    ) -> None:
        weights: dict[str, float] = {}
        total = max(total, MIN_DOCUMENTS)
        self.unseen = 0.0  # the weight of units in no document: never found, only counted
        syllables, abbreviations = reading
        if not (syllables or abbreviations):  # a query typed in pinyin is scored by its reading alone
            units = [(grams_field, g) for g in analysis.query_bigrams(text)]
            units += [(words_field, w) for w in analysis.tokens(text) if w.isascii() and len(w) > 1]
            for field, unit in dict.fromkeys(units):
                df = doc_freq(field, unit)
                if df:
                    weights[unit] = idf(df, total)
                else:
                    self.unseen += idf(0, total)
        self.passages = PassageScorer(weights)
        self.latin = any(w.isascii() for w in weights)
        self.grams = [f"{a}_{b}" for a, b in zip(syllables, syllables[1:], strict=False)]
        self.reading = " ".join(syllables) if len(syllables) > 1 else ""
        self.abbreviations = list(abbreviations)
        # each pinyin unit weighs 1: the syllable bigrams, the whole reading, each abbreviation
        self.spoken = len(self.grams) + bool(self.reading) + len(self.abbreviations)

    def score(self, title: str, text: str) -> float:
        """Share of the query's weight found in the title and one passage of the text, 0..1."""
        total = self.passages.total + self.unseen + self.spoken
        if not total:
            return 0.0
        if self.latin:
            title, text = analysis.fold(title), analysis.fold(text)
        found = self.passages.coverage(title, text, PASSAGE_WIDTH) * self.passages.total
        if self.spoken:
            lead = f"{title} {text[:READING_CHARS]}"
            grams = set(analysis.pinyin_grams(lead))
            heads = analysis.initials_of_text(lead)
            found += sum(g in grams for g in self.grams) + sum(a in heads for a in self.abbreviations)
            if self.reading:
                said = " ".join(s for run in analysis.han_runs(lead) for s in analysis.run_syllables(run))
                found += f" {self.reading} " in f" {said} "
        return found / total
