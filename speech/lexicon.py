"""Pinyin back to Chinese words: a frequency-weighted dynamic programme over a word lexicon.

The bundled recogniser emits pinyin, not characters. Homophones make any rendering a guess, so the
recognised pinyin itself (`Recognition.pinyin`) is what searches should use; `text` is the most
probable word sequence from data/models/.../lexicon.tsv (menu words plus jieba's 60,000 commonest words),
matched on toneless syllables.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

from speech.syllables import DIGIT_SYLLABLES

DIGIT_CHARS = dict(zip("0123456789", "零幺二三四五六七八九", strict=True))

MENU_WORDS = (
    "政策法规",
    "办事指南",
    "常见问题",
    "通知公告",
    "人工服务",
    "办理进度",
    "查询进度",
    "留言",
    "投诉",
    "咨询",
    "求助",
    "建议",
    "举报",
    "是",
    "不是",
    "对",
    "不对",
    "好的",
    "第一个",
    "第二个",
    "第三个",
    "上一条",
    "下一条",
    "重听",
    "返回",
    "社保",
    "医保",
    "公积金",
    "户口",
    "身份证",
    "居住证",
    "零",
    "一",
    "幺",
    "二",
    "两",
    "三",
    "四",
    "五",
    "六",
    "七",
    "八",
    "九",
)
MAX_WORD = 8


@lru_cache(maxsize=4)
def load_lexicon(path: Path) -> dict[tuple[str, ...], tuple[str, float]]:
    """toneless syllables -> (best word, log probability)."""
    entries: dict[tuple[str, ...], tuple[str, int]] = {}
    total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        word, freq, syllables = line.split("\t")
        key = tuple(syllables.split())
        count = int(freq)
        total += count
        if key not in entries or entries[key][1] < count:
            entries[key] = (word, count)
    return {key: (word, math.log(count / total)) for key, (word, count) in entries.items()}


def pinyin_to_words(syllables: list[str], lexicon: dict[tuple[str, ...], tuple[str, float]]) -> list[str]:
    """Most probable words for toneless syllables; runs of 3+ digit syllables become digits (零幺二...)."""
    words: list[str] = []
    plain: list[str] = []
    i = 0
    while i <= len(syllables):
        j = i
        while j < len(syllables) and syllables[j] in DIGIT_SYLLABLES:
            j += 1
        if j - i >= 3 or i == len(syllables):
            words.extend(_segment(plain, lexicon))
            plain = []
            words.append("".join(DIGIT_CHARS[DIGIT_SYLLABLES[s]] for s in syllables[i:j]))
            i = j if j > i else i + 1
        else:
            plain.extend(syllables[i : max(j, i + 1)])
            i = max(j, i + 1)
    return [w for w in words if w]


def _segment(syllables: list[str], lexicon: dict[tuple[str, ...], tuple[str, float]]) -> list[str]:
    n = len(syllables)
    best: list[tuple[float, int, str]] = [(0.0, 0, "")] + [(-math.inf, 0, "")] * n
    for end in range(1, n + 1):
        for start in range(max(0, end - MAX_WORD), end):
            entry = lexicon.get(tuple(syllables[start:end]))
            if entry is None and end - start == 1:
                entry = (syllables[start], -30.0)
            if entry is None:
                continue
            score = best[start][0] + entry[1] - 4.0  # a per-word penalty favours longer words
            if score > best[end][0]:
                best[end] = (score, start, entry[0])
    words: list[str] = []
    end = n
    while end > 0:
        _, start, word = best[end]
        words.append(word)
        end = start
    return words[::-1]
