"""Error rates for tests and benchmarks: pinyin syllable error and character error."""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

from speech.syllables import toneless


def _levenshtein(a: list[str] | str, b: list[str] | str) -> int:
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
        prev = cur
    return prev[-1]


def reference_pinyin(text: str, *, tones: bool = False) -> list[str]:
    style = Style.TONE3 if tones else Style.NORMAL
    return lazy_pinyin(re.sub(r"[^\u4e00-\u9fff]", "", text), style=style, errors="ignore")


def pinyin_errors(reference_text: str, syllables: list[str], *, tones: bool = False) -> tuple[int, int]:
    """(edit distance, reference length) between a transcript's pinyin and recognised syllables."""
    ref = reference_pinyin(reference_text, tones=tones)
    hyp = syllables if tones else [toneless(s) for s in syllables]
    return _levenshtein(hyp, ref), len(ref)


def char_errors(reference_text: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance, reference length) over Chinese characters."""
    ref = re.sub(r"[^\u4e00-\u9fff]", "", reference_text)
    hyp = re.sub(r"[^\u4e00-\u9fff]", "", hypothesis)
    return _levenshtein(hyp, ref), len(ref)
