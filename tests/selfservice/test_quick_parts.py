"""A text nobody has heard yet is read in quick parts (a short first one, so that the waiting caller
hears it soon) and its natural parts are rendered behind everything else for the next callers, who hear
those (fewer pauses between words)."""

from __future__ import annotations

import asyncio
import time
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
    deadline = time.monotonic() + 60
    while not all(speech.cached_part(part, rate=RATE) for part in natural) and time.monotonic() < deadline:
        time.sleep(0.1)  # queued behind any caller's render (BACKGROUND)
    assert heard(TITLE) == [speech.cached_part(part, rate=RATE) for part in natural]
