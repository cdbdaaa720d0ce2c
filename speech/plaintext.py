"""Markdown to plain text, for everything that is not a web page: speech, SMS and fax bodies.

`plain_text("## 申请条件\n- **本人**身份证")` -> "申请条件\n本人身份证". Headings become their own line,
bullet markers go, ordered list numbers stay ("1. "), emphasis, inline code and HTML tags are unwrapped,
links and images keep their text (a bare link keeps its address), table rows become cells joined by "，"
and rules, fences and table separators disappear. Line structure is kept; blank-line runs shrink to one.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_RULE = re.compile(r"^\s{0,3}([-*_=])(\s*\1){2,}\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_QUOTE = re.compile(r"^\s{0,3}(?:>\s?)+")
_BULLET = re.compile(r"^\s*[-*+]\s+")
_ORDERED = re.compile(r"^\s*(\d{1,3})[.)]\s+")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_INLINE = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: the alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: the label
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference links
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),  # autolinks: the address
    (re.compile(r"<br\s*/?>", re.IGNORECASE), "\n"),
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),  # other HTML tags
    (re.compile(r"`+([^`]+?)`+"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
    (re.compile(r"(?<![*\\])\*(?=[^\s*\d])([^*\n]+?)(?<=[^\s*\d])\*(?!\*)"), r"\1"),  # also inside Chinese
    (re.compile(r"(?<![_\w])_(?=[^\s_])([^_\n]+?)(?<=[^\s_])_(?![_\w])"), r"\1"),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])"), r"\1"),  # backslash escapes
)
_REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+.*$")


def plain_text(markdown: str) -> str:
    """The text of a Markdown document without its markup (for speech, SMS and fax)."""
    lines: list[str] = []
    for line in markdown.replace("\r\n", "\n").split("\n"):
        if _FENCE.match(line) or _RULE.match(line) or _REFERENCE_DEFINITION.match(line):
            continue
        if _TABLE_SEPARATOR.match(line) and "-" in line:
            continue
        heading = _HEADING.match(line)
        if heading:
            line = heading.group(1)
        line = _QUOTE.sub("", line)
        ordered = _ORDERED.match(line)
        if ordered:
            line = f"{ordered.group(1)}. " + line[ordered.end() :]
        else:
            line = _BULLET.sub("", line)
        if line.strip().startswith("|") or line.count("|") >= 2:
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            line = "，".join(cell for cell in cells if cell)
        for pattern, replacement in _INLINE:
            line = pattern.sub(replacement, line)
        lines.append(line.rstrip())
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
