"""What a caller's words mean before anything is searched: spoken commands ("转人工", a menu's words),
filler ("喂", "你好"), and how well a search hit answers a spoken question.

Commands are spotted on the recogniser's pinyin syllables (toneless), so a command is heard even when the
Chinese rendering is off ("穿人工" for 转人工): a phrase matches a stretch of the utterance with a small
syllable edit distance (a syllable whose initial or final differs costs half a point, a quarter when the
two are easily confused on the phone: zh/ch, an/ang ...; up to 0.4 points per syllable for phrases of
three syllables or more, two-syllable phrases must match exactly). The utterance is the command when at
most one syllable besides the phrase is not filler or politeness ("我要", "请", "帮我", "喂" ...), so "我要
人工服务" is the agent but "人工智能企业有什么补贴" is a question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import speech

AGENT_WORDS = ["人工", "转人工", "人工服务", "人工客服", "找人工", "接人工", "转接人工", "人工坐席", "接线员"]
NAVIGATION_WORDS: dict[str, list[str]] = {  # the same at every step: the main menu, the prompt again
    "main": ["主菜单", "返回主菜单", "回到主菜单"],
    "repeat": ["重听", "再说一遍", "再听一遍", "没听清"],
}
ACTION_WORDS: dict[str, list[str]] = {  # menu actions and the words that name them
    "progress": ["查询进度", "办理进度", "查询办理进度", "进度查询", "查进度", "工单查询", "查询工单"],
    "voicemail": ["留言", "我要留言", "语音留言"],
    "search": ["咨询问题", "我要咨询"],
}
FILLER_WORDS = [
    "喂",
    "你好",
    "您好",
    "嗯",
    "啊",
    "哎",
    "哦",
    "喂喂",
    "在吗",
    "有人吗",
    "那个",
    "就是",
    "谢谢",
]
POLITE_SYLLABLES = {
    "wo",
    "yao",
    "xiang",
    "qing",
    "bang",
    "gei",
    "ma",
    "ba",
    "ne",
    "a",
    "ya",
    "le",
    "de",
    "yi",
    "xia",
}
FILLER_SYLLABLES = {"wei", "ni", "hao", "nin", "en", "ng", "a", "ai", "o", "ei", "na", "ge", "zai", "xie"}

# A best hit below kb's "answered" threshold (kb.search.relevance) but at least this relevant is
# offered as "您是想咨询……吗？"; below it the caller hears an honest no-result.
PLAUSIBLE = 0.3

@dataclass(frozen=True)
class Command:
    """A spoken command: `action` is "agent", "main", "repeat", "filler" or a menu action; `key` the menu
    key it selects."""

    action: str
    key: str | None = None
    phrase: str = ""


def syllables_of(pinyin: list[str]) -> list[str]:
    """The recogniser's tone3 syllables ("ren2") as toneless lowercase ones ("ren")."""
    return [re.sub(r"[0-9]", "", s).lower() for s in pinyin if re.sub(r"[0-9]", "", s)]


def _best_match(syllables: list[str], phrase: str) -> tuple[float, int, int] | None:
    """(distance, start, end) of the stretch of `syllables` that best matches `phrase`, if close enough."""
    ref = speech.phrase_syllables(phrase)
    allowed = speech.allowed_errors(len(ref))
    best: tuple[float, int, int] | None = None
    for length in range(max(1, len(ref) - 1), len(ref) + 2):
        for start in range(0, len(syllables) - length + 1):
            dist = speech.syllable_distance(syllables[start : start + length], ref)
            if dist <= allowed and (best is None or dist < best[0]):
                best = (dist, start, start + length)
    return best


def _leftover(syllables: list[str], start: int, end: int) -> int:
    rest = syllables[:start] + syllables[end:]
    return sum(1 for s in rest if s not in POLITE_SYLLABLES and s not in FILLER_SYLLABLES)


def spot_command(pinyin: list[str], menu_words: dict[str, tuple[str, str | None]]) -> Command | None:
    """The command in an utterance (its recognised pinyin), or None when it is a question to search.

    `menu_words` maps a phrase to (action, key) for the menu at hand (see `menu_vocabulary`)."""
    syllables = syllables_of(pinyin)
    if not syllables:
        return None
    if all(s in FILLER_SYLLABLES or s in POLITE_SYLLABLES for s in syllables):
        return Command("filler")
    vocabulary = {phrase: ("agent", "0") for phrase in AGENT_WORDS} | menu_words
    for action, phrases in NAVIGATION_WORDS.items():
        vocabulary |= {phrase: (action, None) for phrase in phrases}
    found: list[tuple[int, float, int, str]] = []
    for phrase in vocabulary:
        match = _best_match(syllables, phrase)
        if match is None:
            continue
        dist, start, end = match
        left = _leftover(syllables, start, end)
        if left <= 1:
            found.append((left, dist, -(end - start), phrase))
    if not found:
        return None
    _, _, _, phrase = min(found)
    action, key = vocabulary[phrase]
    return Command(action, key, phrase)


def command_phrases(menu_words: dict[str, tuple[str, str | None]]) -> list[str]:
    """Every command phrase: the grammar for steps that listen for commands only."""
    navigation = [phrase for phrases in NAVIGATION_WORDS.values() for phrase in phrases]
    return [*AGENT_WORDS, *navigation, *menu_words, *FILLER_WORDS]


def menu_vocabulary(items: list[tuple[str, str, str | None]]) -> dict[str, tuple[str, str | None]]:
    """Phrase -> (action, key) for main-menu items given as (key, action, category)."""
    words: dict[str, tuple[str, str | None]] = {}
    for key, action, category in items:
        if action == "category" and category:
            words[category] = (action, key)
        for phrase in ACTION_WORDS.get(action, []):
            words[phrase] = (action, key)
    return words
