"""A side-by-side, word-level comparison of two revisions for the editors' pages.

Lines (one per field, one per line of the body) are aligned first (difflib); a changed pair of lines is
then compared word by word, the words cut by jieba (kb.search.analysis's tokenizer), so that a changed
word shows as one deletion and one insertion instead of a rewritten line. The output is HTML with every
piece of text escaped: <del> marks what the left (older) side lost, <ins> what the right side gained.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from itertools import zip_longest

from markupsafe import Markup, escape

from kb.search.analysis import tokenizer


@dataclass(frozen=True)
class DiffRow:
    """One row of the side-by-side view; `kind` is equal, changed, added or removed."""

    kind: str
    old: Markup
    new: Markup


def words(text: str) -> list[str]:
    """The text cut into jieba words, spaces and punctuation included (joined, they give the text back)."""
    return list(tokenizer().cut(text, False)) if text else []


def _marked(parts: list[str], tag: str) -> Markup:
    return Markup("<{0}>{1}</{0}>").format(tag, "".join(parts)) if parts else Markup("")


def word_diff(old: str, new: str) -> tuple[Markup, Markup]:
    """Two escaped HTML strings: `old` with its removed words in <del>, `new` with its added words in <ins>."""
    a, b = words(old), words(new)
    left: list[Markup] = []
    right: list[Markup] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            left.append(escape("".join(a[i1:i2])))
            right.append(escape("".join(b[j1:j2])))
            continue
        left.append(_marked([escape(w) for w in a[i1:i2]], "del"))
        right.append(_marked([escape(w) for w in b[j1:j2]], "ins"))
    return Markup("").join(left), Markup("").join(right)


def side_by_side(old_lines: list[str], new_lines: list[str]) -> list[DiffRow]:
    """Rows pairing the old lines with the new ones; changed pairs are compared word by word."""
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows.extend(DiffRow("equal", escape(line), escape(line)) for line in old_lines[i1:i2])
            continue
        for old, new in zip_longest(old_lines[i1:i2], new_lines[j1:j2]):
            if old is None:
                rows.append(DiffRow("added", Markup(""), _marked([escape(new)], "ins")))
            elif new is None:
                rows.append(DiffRow("removed", _marked([escape(old)], "del"), Markup("")))
            else:
                rows.append(DiffRow("changed", *word_diff(old, new)))
    return rows
