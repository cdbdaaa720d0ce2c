"""Near-duplicate text detection shared by case work and the knowledge base: character-bigram Jaccard."""

from __future__ import annotations

PUNCTUATION = frozenset("，。！？、,.!?;；：:（）()“”\"'《》【】")


def bigrams(text: str) -> set[str]:
    """Character bigrams of a text, ignoring white space and punctuation."""
    chars = [c for c in text if not c.isspace() and c not in PUNCTUATION]
    return {a + b for a, b in zip(chars, chars[1:], strict=False)}


def jaccard(x: set[str], y: set[str]) -> float:
    return len(x & y) / len(x | y) if x and y else 0.0


def similarity(a: str, b: str) -> float:
    """Character-bigram Jaccard similarity of two texts (0..1)."""
    return jaccard(bigrams(a), bigrams(b))
