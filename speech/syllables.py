"""The recogniser's pinyin tokens (initials and tone-marked finals) as syllables."""

from __future__ import annotations

from pypinyin.contrib.tone_convert import to_normal, to_tone3

INITIALS = (
    "zh",
    "ch",
    "sh",
    "b",
    "p",
    "m",
    "f",
    "d",
    "t",
    "n",
    "l",
    "g",
    "k",
    "h",
    "j",
    "q",
    "x",
    "r",
    "z",
    "c",
    "s",
    "y",
    "w",
)
DIGIT_SYLLABLES = {
    "ling": "0",
    "yi": "1",
    "yao": "1",
    "er": "2",
    "liang": "2",
    "san": "3",
    "si": "4",
    "wu": "5",
    "liu": "6",
    "qi": "7",
    "ba": "8",
    "jiu": "9",
}


def join_tokens(tokens: list[str]) -> list[str]:
    """["n", "ǐ", "h", "ǎo"] -> ["ni3", "hao3"] (tone3 style; Latin letters pass through)."""
    syllables: list[str] = []
    pending = ""
    for token in tokens:
        if token in INITIALS:
            if pending:
                syllables.append(pending)
            pending = token
        elif token.isascii() and token.isupper():
            if pending:
                syllables.append(pending)
                pending = ""
            syllables.append(token)
        else:
            syllables.append(to_tone3(pending + token))
            pending = ""
    if pending:
        syllables.append(pending)
    return syllables


def toneless(syllable: str) -> str:
    return to_normal(syllable, v_to_u=False).rstrip("012345")


def split_syllable(syllable: str) -> tuple[str, str]:
    """ "zhang" -> ("zh", "ang")."""
    for initial in INITIALS:
        if syllable.startswith(initial) and len(syllable) > len(initial):
            return initial, syllable[len(initial) :]
    return "", syllable
