"""Splitting a document body into short readable parts (for paging aloud on the phone)."""

from __future__ import annotations

import re

MAX_SECTION = 300
_HEADING = re.compile(r"^#{1,6}\s+")
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")


def split_sections(body: str, max_chars: int = MAX_SECTION) -> list[str]:
    """Headings start a new part; paragraphs are joined up to max_chars; long paragraphs are cut at
    sentence ends (or hard at max_chars when a sentence is longer)."""
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=#)", body.strip()):
        text = " ".join(line.strip() for line in block.splitlines() if line.strip())
        if text:
            paragraphs.append(text)
    sections: list[str] = []
    current = ""
    for para in paragraphs:
        is_heading = bool(_HEADING.match(para))
        para = _HEADING.sub("", para)
        pieces = _pieces(para, max_chars)
        for piece in pieces:
            if current and (is_heading or len(current) + len(piece) + 1 > max_chars):
                sections.append(current)
                current = ""
            current = f"{current}\n{piece}" if current else piece
            is_heading = False
    if current:
        sections.append(current)
    return sections


def _pieces(text: str, max_chars: int) -> list[str]:
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in (s for s in _SENTENCE_END.split(text) if s):
        while len(sentence) > max_chars:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:max_chars])
            sentence = sentence[max_chars:]
        if len(current) + len(sentence) > max_chars:
            pieces.append(current)
            current = ""
        current += sentence
    if current:
        pieces.append(current)
    return pieces
