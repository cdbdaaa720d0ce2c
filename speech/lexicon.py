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


# --- Pronunciation for the neural voice: readings that pypinyin gets wrong in policy words -------------
# word -> tone3 syllables. pypinyin reads most policy words right (银行, 重庆, 长春, 单位, 调整, 重新: tested),
# but not these; an entry wins where it starts at a jieba word boundary or lies inside one jieba word, so
# 严重/新冠 keeps 严重's zhong4. Add a word here (and to tests/speech/test_lexicon.py) when a reading is wrong.
PRONUNCIATIONS: dict[str, tuple[str, ...]] = {
    "银行": ("yin2", "hang2"),
    "支行": ("zhi1", "hang2"),
    "总行": ("zong3", "hang2"),
    "分行": ("fen1", "hang2"),
    "行长": ("hang2", "zhang3"),
    "重庆": ("chong2", "qing4"),
    "长春": ("chang2", "chun1"),
    "长沙": ("chang2", "sha1"),
    "长效": ("chang2", "xiao4"),
    "单位": ("dan1", "wei4"),
    "调整": ("tiao2", "zheng3"),
    "调档": ("diao4", "dang4"),
    "重新": ("chong2", "xin1"),
    "重置": ("chong2", "zhi4"),
    "重设": ("chong2", "she4"),
    "重办": ("chong2", "ban4"),
    "重填": ("chong2", "tian2"),
    "重发": ("chong2", "fa1"),
    "重名": ("chong2", "ming2"),
    "重号": ("chong2", "hao4"),
    "重复": ("chong2", "fu4"),
    "还款": ("huan2", "kuan3"),
    "还贷": ("huan2", "dai4"),
    "还房贷": ("huan2", "fang2", "dai4"),
    "还清": ("huan2", "qing1"),
    "还本": ("huan2", "ben3"),
    "还钱": ("huan2", "qian2"),
    "还息": ("huan2", "xi1"),
    "提取": ("ti2", "qu3"),
    "便民": ("bian4", "min2"),
    "应缴": ("ying1", "jiao3"),
    "应付": ("ying1", "fu4"),
    "应收": ("ying1", "shou1"),
    "参保": ("can1", "bao3"),
    "给予": ("ji3", "yu3"),
    "处理": ("chu3", "li3"),
    "幺": ("yao1",),
}
MAX_PRONUNCIATION = max(map(len, PRONUNCIATIONS))


def pronounce(text: str) -> list[tuple[str, list[str]]]:
    """(word, tone3 syllables) for a run of Chinese characters: jieba's words, read by pypinyin, with
    the readings of PRONUNCIATIONS where they apply (neutral tone as 5, the style the voice expects)."""
    import jieba
    from pypinyin import Style, lazy_pinyin

    words = jieba.lcut(text)
    syllables: list[str] = []
    starts: set[int] = set()
    word_of: list[int] = []
    for index, word in enumerate(words):
        starts.add(len(syllables))
        readings = lazy_pinyin(word, style=Style.TONE3, neutral_tone_with_five=True)
        if len(readings) != len(word):  # not all Hanzi: one reading per character
            readings = [lazy_pinyin(ch, style=Style.TONE3, neutral_tone_with_five=True)[0] for ch in word]
        syllables += readings
        word_of += [index] * len(word)
    i = 0
    while i < len(text):
        for size in range(min(MAX_PRONUNCIATION, len(text) - i), 0, -1):
            entry = PRONUNCIATIONS.get(text[i : i + size])
            if entry and (i in starts or word_of[i] == word_of[i + size - 1]):
                syllables[i : i + size] = entry
                i += size
                break
        else:
            i += 1
    out: list[tuple[str, list[str]]] = []
    position = 0
    for word in words:
        out.append((word, syllables[position : position + len(word)]))
        position += len(word)
    return out
