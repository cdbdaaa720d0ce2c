"""Text analysis shared by all engines: folding, jieba segmentation, stop words, pinyin.

Engines never segment Chinese themselves: documents and queries are turned into token lists
here and handed over as whitespace-separated text, so every engine sees the same terms.
Segmentation is jieba's algorithm and dictionary as implemented by jieba-rs (PyPI `rjieba`),
about 20 times faster than the pure-Python jieba with the same output in almost all cases.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import rjieba
import zhconv
from pypinyin import Style, lazy_pinyin

USER_DICT = Path(__file__).with_name("userdict.txt")
PLACES_FILE = Path(__file__).with_name("places.txt")  # built by scripts/build_places.py

# Function words and question words that carry no topic; removed from documents and queries alike.
STOP_WORDS = frozenset(
    """
    的 了 是 在 和 与 及 或 等 对 为 有 吗 呢 啊 吧 把 被 从 到 以 于 之 其 这 那 就 也 都 而 并 但 个 将 已
    由 向 中 上 下 着 过 所 该 此 各 要 会 能 可 请 我 我们 你 你们 他 她 它 他们 什么 哪些 哪个 哪里 如何 怎么
    怎样 怎么办 是否 多少 几 何 有何 为何 啥 么 哪 谁 何时 什么样 有没有 能否 可否 可以 需要 一下
    """.split()
)

_TOKEN_OK = re.compile(r"[\w]", re.UNICODE)
_HAN = re.compile(r"[\u4e00-\u9fff]+")
_lock = threading.Lock()
_tokenizer: rjieba.Jieba | None = None


def tokenizer() -> rjieba.Jieba:
    """The process-wide jieba tokenizer with the government-terms user dictionary, loaded once."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                tok = rjieba.Jieba()
                for line in USER_DICT.read_text(encoding="utf-8").splitlines():
                    word, freq, tag = (line.split() + ["", "", ""])[:3]
                    if word:
                        tok.add_word(word, int(freq or 10), tag or "n")
                _tokenizer = tok
    return _tokenizer


def fold(text: str) -> str:
    """Full-width to half-width (NFKC) and lower case."""
    return unicodedata.normalize("NFKC", text or "").lower()


def fold_query(text: str) -> str:
    """A query folded like documents, and traditional characters turned simplified (zhconv).

    Only queries are converted (cheap: ~0.1 ms); the bundled documents are simplified already.
    """
    return zhconv.convert(fold(text), "zh-cn")


def _keep(token: str) -> bool:
    return bool(token.strip()) and bool(_TOKEN_OK.search(token)) and token not in STOP_WORDS


def tokens(text: str) -> list[str]:
    """Index/search terms: jieba search-mode segmentation (words and their sub-words), no stop words."""
    return [t for t in tokenizer().cut_for_search(fold(text), True) if _keep(t)]


def words(text: str) -> list[str]:
    """Precise-mode words (no overlapping sub-words), for phrases and spelling suggestions."""
    return [t for t in tokenizer().cut(fold(text), True) if _keep(t)]


@lru_cache(maxsize=200_000)
def syllables(word: str) -> tuple[str, ...]:
    """Toneless pinyin syllables of a word (pypinyin, polyphones read in context); cached per word."""
    return tuple(lazy_pinyin(word, style=Style.NORMAL, errors="ignore"))


def pinyin_of(word: str) -> str:
    """Toneless pinyin of a word, syllables joined without separator: 公积金 -> gongjijin."""
    return "".join(syllables(word))


def run_syllables(run: str) -> list[str]:
    """Syllables of a run of Han characters, converted word by word (jieba) so the cache works."""
    out: list[str] = []
    for word in tokenizer().cut(run, True):
        out.extend(syllables(word))
    return out


def pinyin_grams(text: str) -> list[str]:
    """Pinyin syllable bigrams of every run of Han characters: 公积金 -> gong_ji ji_jin.

    Homophones share these terms, so a query with a wrong character of the same sound
    (公基金, or speech recognition output) still meets the document.
    """
    grams: list[str] = []
    for run in _HAN.findall(fold(text)):
        sy = run_syllables(run)
        if len(sy) == 1:
            grams.append(sy[0])
        grams.extend(f"{a}_{b}" for a, b in zip(sy, sy[1:], strict=False))
    return grams


def char_bigrams(text: str) -> list[str]:
    """Overlapping character bigrams of every run of Han characters (single characters alone).

    They match names and terms that jieba segments differently in a question and a document.
    """
    grams: list[str] = []
    for run in _HAN.findall(fold(text)):
        if len(run) == 1:
            grams.append(run)
        grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return grams


def query_bigrams(text: str) -> list[str]:
    """Character bigrams of a query, taken within the runs of words between its stop words.

    A bigram across a stop word (税务局对纳税人: 局对, 对纳) is not a term of the question and
    meets documents at random; bigrams across two content words (纳税人提供: 人提) stay, since
    they find names that a document segments differently.
    """
    grams: list[str] = []
    run: list[str] = []
    for word in tokenizer().cut(fold(text), True):
        if _keep(word):
            run.append(word)
        else:
            grams.extend(char_bigrams("".join(run)))
            run = []
    grams.extend(char_bigrams("".join(run)))
    return grams


@lru_cache(maxsize=1)
def place_names() -> frozenset[str]:
    """Province-level units and cities as jieba segments them (陕西, 淮安), without 省/市."""
    lines = PLACES_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def places(terms: list[str]) -> list[str]:
    """The place names among a text's terms (search-mode terms include 陕西 for 陕西省), once each."""
    known = place_names()
    return [t for t in dict.fromkeys(terms) if t in known]


def joined(terms: list[str]) -> str:
    """Terms as whitespace-separated text for the engines' whitespace tokenizers."""
    return " ".join(terms)


@lru_cache(maxsize=1)
def pinyin_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable of pypinyin's dictionary (ü written v), about 410."""
    from pypinyin.pinyin_dict import pinyin_dict

    found: set[str] = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            plain = "".join(c for c in unicodedata.normalize("NFKD", reading) if c.isascii())
            if plain.isalpha():
                found.add(plain.replace("u\u0308", "v").lower())
    found.discard("")
    return frozenset(found)


@lru_cache(maxsize=4096)
def split_pinyin(letters: str) -> tuple[str, ...] | None:
    """Latin letters as the fewest pinyin syllables (gongjijin -> gong ji jin), None if they are not
    pinyin. Separators (gong'ji'jin) are the caller's to remove."""
    known = pinyin_syllables()
    n = len(letters)
    best: list[tuple[str, ...] | None] = [None] * (n + 1)
    best[0] = ()
    for end in range(1, n + 1):
        for start in range(max(0, end - 6), end):
            head, piece = best[start], letters[start:end]
            if head is not None and piece in known:
                cand = (*head, piece)
                if best[end] is None or len(cand) < len(best[end] or ()):
                    best[end] = cand
    return best[n]


def initials(word: str) -> str:
    """First letters of a word's syllables: 公积金 -> gjj (how people type abbreviations)."""
    return "".join(s[0] for s in syllables(word) if s)


def han_runs(text: str) -> list[str]:
    """The runs of Han characters of a folded text."""
    return _HAN.findall(fold(text))


def initials_of_text(text: str) -> str:
    """Initials of every Han character of a text, in order (runs read word by word)."""
    return "".join(s[0] for run in han_runs(text) for s in run_syllables(run) if s)


_LATIN_OR_HAN = re.compile(r"[a-z]+|[\u4e00-\u9fff]+")
_SEPARATED = re.compile(r"(?<=[a-z])['\s]+(?=[a-z])")


def pinyin_reading(
    text: str,
    is_word: Callable[[str], bool] = lambda _: False,
    is_initials: Callable[[str], bool] = lambda _: True,
) -> tuple[list[str], list[str]]:
    """What a query typed (partly) in pinyin spells: (syllables, initials).

    Latin letters are read as pinyin where they split into syllables (gongjijin, gong'ji'jin,
    gong ji jin, gong积金: Han characters count by their reading) and as initials otherwise (gjj)
    when is_initials says the index has such initials. Latin words of the index (is_word: app, etf)
    are left alone. Both lists are empty when no Latin letters are read so (xyzzy stays a word).
    """
    folded = _SEPARATED.sub("", fold(text))
    parts = [p for p in _LATIN_OR_HAN.findall(folded) if not (p.isascii() and is_word(p))]
    sy: list[str] = []
    abbreviations: list[str] = []
    latin_read = False
    for part in parts:
        if not part.isascii():
            sy.extend(run_syllables(part))
        elif (split := split_pinyin(part)) is not None:
            sy.extend(split)
            latin_read = True
        elif 2 <= len(part) <= 8 and is_initials(part):
            abbreviations.append(part)
            latin_read = True
    return (sy, abbreviations) if latin_read else ([], [])
