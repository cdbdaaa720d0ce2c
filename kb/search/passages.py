"""Passage evidence: how much of a question one stretch of a document covers.

A question is answered in one place of a document. Among the best candidates, one whose title
and a single stretch of its text hold most of the question's rare bigrams is a likelier answer
than one whose matches are spread over a long text (BM25 sees only the whole document).
"""

from __future__ import annotations

from collections.abc import Mapping

from kb.search.windows import densest_window


class PassageScorer:
    """A question's bigrams with their weights (IDF), scanned for in candidate texts."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.weights = {g: w for g, w in weights.items() if w > 0}
        self.total = sum(self.weights.values())

    def coverage(self, title: str, text: str, width: int) -> float:
        """Largest share of the bigram weight found in the title or within `width` characters of
        the text: title bigrams count wherever the stretch is, the others inside it."""
        if not self.total:
            return 0.0
        in_title = sum(weight for gram, weight in self.weights.items() if gram in title)
        best, _ = self.densest(text, width, skip=title)
        return (in_title + best) / self.total

    def densest(self, text: str, width: int, skip: str = "") -> tuple[float, int]:
        """The weight of the bigrams (other than those in `skip`) within the densest stretch of
        `width` characters of the text, and where that stretch starts."""
        events: list[tuple[int, str]] = []  # (position, bigram) of every occurrence in the text
        for gram in self.weights:
            if gram in skip:
                continue
            at = text.find(gram)
            while at != -1:
                events.append((at, gram))
                at = text.find(gram, at + 1)
        events.sort()
        return densest_window(events, self.weights.__getitem__, width - 2)  # whole bigrams inside
