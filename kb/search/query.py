"""Query rewriting above the engines: weighted term clauses, synonyms, phrases, pinyin, did-you-mean."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kb.search import analysis
from kb.search import schema as sch

_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Filters:
    category: str | None = None
    department: str | None = None
    public_only: bool = True
    today: int = 0  # date ordinal


@dataclass(frozen=True)
class TermClause:
    field: str
    term: str
    boost: float


@dataclass(frozen=True)
class PhraseClause:
    field: str
    words: list[str]
    slop: int
    boost: float


@dataclass(frozen=True)
class QueryPlan:
    """What to look for, engine-neutral: engines OR all clauses, each scored by BM25 times its boost."""

    terms: list[TermClause] = field(default_factory=list)
    phrases: list[PhraseClause] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)  # words to highlight, longest first

    @property
    def empty(self) -> bool:
        return not self.terms


def expand_synonyms(text: str, groups: Sequence[Sequence[str]]) -> list[str]:
    """Members of every synonym group that has a member in the text (other than those present)."""
    folded = analysis.fold(text)
    extra: list[str] = []
    for group in groups:
        members = [analysis.fold(m).strip() for m in group if m and m.strip()]
        if any(m in folded for m in members):
            extra.extend(m for m in members if m not in folded)
    return list(dict.fromkeys(extra))


def _clauses(text: str, weight: float) -> list[TermClause]:
    out: list[TermClause] = []
    tokens = list(dict.fromkeys(analysis.tokens(text)))
    grams = list(dict.fromkeys(analysis.query_bigrams(text)))
    for field_name, boost in sch.TERM_BOOSTS.items():
        if not boost:
            continue
        terms = grams if field_name == sch.GRAMS_FIELD else tokens
        out.extend(TermClause(field_name, t, boost * weight) for t in terms)
    return out


def _word_pairs(words: list[str], doc_ratio: Callable[[str], float] | None) -> list[list[str]]:
    """Adjacent word pairs for proximity clauses, the rarest first (see schema.PHRASE_LIMIT)."""
    pairs = [[a, b] for a, b in zip(words, words[1:], strict=False)]
    if doc_ratio is None:
        return pairs[: sch.PHRASE_LIMIT]
    ratios = {w: doc_ratio(w) for w in words}
    kept = [p for p in pairs if 0 < min(ratios[p[0]], ratios[p[1]]) <= sch.PHRASE_MAX_DF]
    kept.sort(key=lambda p: ratios[p[0]] + ratios[p[1]])
    return kept[: sch.PHRASE_LIMIT]


def typed_pinyin(syllables: Sequence[str], abbreviations: Sequence[str]) -> list[TermClause]:
    """Clauses for a query typed in pinyin (analysis.pinyin_reading): its syllable bigrams in title,
    keywords and question, the whole reading and the initials as indexed words."""
    boost = sch.TYPED_PINYIN_BOOST
    grams = [f"{a}_{b}" for a, b in zip(syllables, syllables[1:], strict=False)] or list(syllables[:1])
    clauses = [TermClause(sch.PINYIN_FIELD, g, boost) for g in dict.fromkeys(grams)]
    if len(syllables) > 1:
        clauses.append(TermClause(sch.WORDPY_FIELD, "".join(syllables), boost))
    clauses.extend(TermClause(sch.WORDPY_FIELD, a, boost) for a in dict.fromkeys(abbreviations))
    return clauses


def build(
    text: str,
    synonyms: Sequence[Sequence[str]] = (),
    with_pinyin: bool = False,
    doc_ratio: Callable[[str], float] | None = None,
    reading: tuple[Sequence[str], Sequence[str]] = ((), ()),
) -> QueryPlan:
    """Turn a user's query into weighted clauses.

    with_pinyin adds the query's pinyin bigrams (homophone fallback: 公基金 meets 公积金); the
    index asks for it when the query sounds like indexed words it does not spell.
    doc_ratio(word) is the share of documents containing a word (phrase selection).
    reading: the query's pinyin (syllables, initials) where it is typed in pinyin.
    """
    terms = _clauses(text, 1.0) + typed_pinyin(*reading)
    expanded = expand_synonyms(text, synonyms)
    for member in expanded:
        terms.extend(_clauses(member, sch.SYNONYM_WEIGHT))
    words = analysis.words(text)
    if with_pinyin and sch.PINYIN_BOOST:
        grams = dict.fromkeys(analysis.pinyin_grams(text))
        terms.extend(TermClause(sch.PINYIN_FIELD, g, sch.PINYIN_BOOST) for g in grams)
    pairs = _word_pairs(words, doc_ratio)
    phrases = [
        PhraseClause(f, pair, sch.PHRASE_SLOP, boost)
        for f, boost in sch.PHRASE_BOOSTS.items()
        if boost
        for pair in pairs
    ]
    marks = {*words, *analysis.tokens(text), *(w for m in expanded for w in (m, *analysis.tokens(m)))}
    if any(len(m) > 1 for m in marks):
        marks = {m for m in marks if len(m) > 1}
    return QueryPlan(terms=terms, phrases=phrases, marks=sorted(marks, key=len, reverse=True))


def settled(text: str, is_known: Callable[[str], bool]) -> set[int]:
    """Positions of a folded text's characters inside words of two or more characters that the
    index knows (jieba's precise segmentation): a query made of such words is spelt as meant."""
    positions: set[int] = set()
    at = 0
    for word in analysis.tokenizer().cut(text, True):
        if len(word) > 1 and is_known(word):
            positions.update(range(at, at + len(word)))
        at += len(word)
    return positions


def did_you_mean(
    text: str,
    is_known: Callable[[str], bool],
    word_for_pinyin: Callable[[str], str | None],
    is_unseen: Callable[[str], bool],
) -> str | None:
    """A corrected query where a run of characters is unknown but sounds like an indexed word.

    is_known(term): the term occurs in the index; word_for_pinyin(py): an indexed title or
    keyword word with that pinyin, if any; is_unseen(bigram): a character bigram in no document.
    A window (4..2 characters, longest first) is corrected only if it is no indexed word, holds a
    character outside the query's known words (失业保险金 and 医保异地就医 are left alone) and a
    bigram found in no document (公基金: 公基).
    """
    folded = analysis.fold(text).strip()
    known_at = settled(folded, is_known)
    corrected = folded
    for match in _HAN_RUN.finditer(folded):
        run, offset = match.group(0), match.start()
        sy = analysis.run_syllables(run)
        if len(sy) != len(run):  # a character without a reading: leave this run alone
            continue
        i = 0
        while i < len(run):
            step = 1
            for size in (4, 3, 2):
                window = run[i : i + size]
                if len(window) < size or is_known(window):
                    continue
                if all(offset + k in known_at for k in range(i, i + size)):
                    continue
                if not any(is_unseen(window[k : k + 2]) for k in range(size - 1)):
                    continue
                word = word_for_pinyin("".join(sy[i : i + size]))
                if word and word != window and len(word) == len(window):
                    corrected = corrected.replace(window, word, 1)
                    step = size
                    break
            i += step
    return corrected if corrected != folded else None
