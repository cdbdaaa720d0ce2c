"""Grammar mode for the pinyin recogniser: cover the recognised syllables with grammar phrases.

A dynamic programme explains the toneless syllables as a sequence of grammar phrases and skipped
(garbage) syllables. A phrase may match with a small syllable edit distance: a substituted syllable
costs half a point for its initial and half for its final, a quarter when they are easily confused on
the phone (b/p, d/t, zh/z, n/l, an/ang, a/an ...). Up to 0.4 points per syllable are allowed for
phrases of three syllables or more; one- and two-syllable phrases must match exactly. Skipping a
syllable costs 1, so "bu shi" is 不是, not 是.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

from speech.syllables import split_syllable


@lru_cache(maxsize=256)
def phrase_syllables(phrase: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(phrase, style=Style.NORMAL, errors="ignore"))


CONFUSABLE_INITIALS = [
    {"b", "p"},
    {"d", "t"},
    {"g", "k"},
    {"z", "zh", "c", "ch"},
    {"s", "sh"},
    {"n", "l"},
    {"f", "h"},
    {"j", "q", "x"},
    {"", "y", "w"},
]


def _part_cost(a: str, b: str, similar: bool) -> float:
    return 0.0 if a == b else 0.25 if similar else 0.5


def _final_core(final: str) -> str:
    return final.removesuffix("g").removesuffix("n") or final


def _substitution(a: str, b: str) -> float:
    if a == b:
        return 0.0
    ia, fa = split_syllable(a)
    ib, fb = split_syllable(b)
    initials_close = any(ia in group and ib in group for group in CONFUSABLE_INITIALS)
    return _part_cost(ia, ib, initials_close) + _part_cost(fa, fb, _final_core(fa) == _final_core(fb))


def syllable_distance(hyp: Sequence[str], ref: Sequence[str]) -> float:
    """Edit distance between toneless syllable sequences; confusable initials and finals cost less."""
    prev = [float(j) for j in range(len(ref) + 1)]
    for i in range(1, len(hyp) + 1):
        cur = [float(i)] + [0.0] * len(ref)
        for j in range(1, len(ref) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + _substitution(hyp[i - 1], ref[j - 1]))
        prev = cur
    return prev[-1]


def allowed_errors(length: int) -> float:
    """How far a heard stretch may be from a phrase of `length` syllables and still match it."""
    return 0.0 if length <= 2 else 0.4 * length


def match_grammar(syllables: list[str], grammar: list[str]) -> list[str]:
    """The grammar phrases spoken in order (empty when nothing matched)."""
    phrases = [(p, phrase_syllables(p)) for p in grammar if phrase_syllables(p)]
    n = len(syllables)
    inf = float("inf")
    best: list[tuple[float, int, str | None]] = [(inf, 0, None)] * (n + 1)
    best[0] = (0.0, 0, None)
    for end in range(1, n + 1):
        cost = best[end - 1][0] + 1.0
        if cost < best[end][0]:
            best[end] = (cost, end - 1, None)
        for phrase, ref in phrases:
            slack = int(allowed_errors(len(ref)) + 0.5)
            for length in range(max(1, len(ref) - slack), len(ref) + slack + 1):
                start = end - length
                if start < 0:
                    continue
                dist = syllable_distance(tuple(syllables[start:end]), ref)
                if dist > allowed_errors(len(ref)):
                    continue
                cost = best[start][0] + dist - 0.01 * len(ref)  # prefer longer phrases on ties
                if cost < best[end][0]:
                    best[end] = (cost, start, phrase)
    words: list[str] = []
    end = n
    while end > 0:
        _, start, found = best[end]
        if found is not None:
            words.append(found)
        end = start
    return words[::-1]
