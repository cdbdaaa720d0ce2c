"""Escaped titles and snippets with matched words in <mark>."""

from __future__ import annotations

import re
from html import escape, unescape

from kb.search.windows import densest_window

SNIPPET_CHARS = 120
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # [text](url), ![alt](src) -> text
_MD_LINE = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|>[ \t]?|[-*+][ \t]+)", re.MULTILINE)  # heading, quote, item
_MD_MARKS = re.compile(r"\*\*|__|`+|^[ \t]*(?:-{3,}|\*{3,})[ \t]*$", re.MULTILINE)  # bold, code, rules


def plain_text(markdown: str) -> str:
    """Light Markdown as the words a reader sees: link texts, no heading/list/emphasis marks."""
    return _MD_MARKS.sub("", _MD_LINE.sub("", _MD_LINK.sub(r"\1", markdown)))


class Highlighter:
    """Marks a query's words in texts; built once per query."""

    def __init__(self, terms: list[str]) -> None:
        usable = sorted({t for t in terms if t.strip()}, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, usable)), re.IGNORECASE) if usable else None

    def mark(self, text: str) -> str:
        """HTML-escaped text with every occurrence of a term wrapped in <mark>."""
        if self.pattern is None:
            return escape(text)
        out: list[str] = []
        last = 0
        for m in self.pattern.finditer(text):
            out.append(escape(text[last : m.start()]))
            out.append(f"<mark>{escape(m.group(0))}</mark>")
            last = m.end()
        out.append(escape(text[last:]))
        return "".join(out)

    def snippet(self, text: str, width: int = SNIPPET_CHARS) -> str:
        """The window of `width` characters holding the most distinct terms, escaped and marked
        (the index stores texts as plain_text)."""
        text = " ".join(text.split())
        start = 0
        if self.pattern is not None and len(text) > width:
            matches = [(m.start(), m.group(0).lower()) for m in self.pattern.finditer(text)]
            _, start = densest_window(matches, lambda _: 1.0, width - 10)
            start = max(0, min(start - 10, len(text) - width))
        piece = text[start : start + width]
        prefix = "…" if start > 0 else ""
        suffix = "…" if start + width < len(text) else ""
        return prefix + self.mark(piece) + suffix


def strip_marks(html_text: str) -> str:
    """The plain text of a marked, escaped title."""
    return unescape(html_text.replace("<mark>", "").replace("</mark>", ""))
