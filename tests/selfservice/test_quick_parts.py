"""A text not rendered ahead is read in quick parts (a short first one, so that the waiting caller hears
it soon); one rendered ahead (selfservice.engine.prerender_documents) in its natural parts (fewer pauses
between words)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import speech
from tests.selfservice.test_barge_in_parts import RATE, MemoryLine

TITLE = "关于进一步做好城乡居民基本医疗保险参保缴费工作的通知。"


def heard(title: str) -> list[Path]:
    line = MemoryLine()
    asyncio.run(line.read_aloud(title))
    return [audio for _, _, audio, _ in line.started]


def test_a_cold_text_is_read_in_quick_parts_then_in_its_natural_parts(sqlite_env: Path) -> None:
    quick, natural = speech.sentence_parts(TITLE, quick=True), speech.sentence_parts(TITLE)
    assert len(quick[0]) <= 6 < len(natural[0])
    assert heard(TITLE) == [speech.cached_part(part, rate=RATE) for part in quick]
    assert heard(TITLE) == [speech.cached_part(part, rate=RATE) for part in quick]  # now from the cache
    for part in natural:
        speech.prerender_part(part, rate=RATE)  # as for the listed and most-read documents
    assert heard(TITLE) == [speech.cached_part(part, rate=RATE) for part in natural]
