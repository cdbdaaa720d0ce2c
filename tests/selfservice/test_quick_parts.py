"""A text not rendered ahead is read in quick parts (a short first one, so that the waiting caller hears
it soon); one rendered ahead (selfservice.engine.prerender_documents) in its natural parts (fewer pauses
between words)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import speech
from selfservice.menu import load_menu
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


def test_a_prompt_with_a_new_title_begins_with_its_fixed_words_rendered_at_start(sqlite_env: Path) -> None:
    """"您是想咨询{title}吗？": the words before the placeholder are rendered when the line starts
    (Menu.fixed_texts), so a caller waiting for an answer nobody has heard hears them at once while the
    title is rendered; the next caller of the same answer finds every part in the cache."""
    menu = load_menu()
    heads = [text for text in menu.fixed_texts() if "{" not in text and text in menu.prompts["search_confirm"]]
    assert heads == ["您是想咨询"]
    speech.prerender(menu.fixed_texts(), rate=RATE)  # as the SIP line does at start
    answer = menu.say("search_confirm", title=TITLE.rstrip("。"))
    parts = speech.quick_parts(answer, rate=RATE)
    assert parts[0] == "您是想咨询" and "".join(parts) == speech.normalize_for_speech(answer)
    assert speech.cached_part(parts[0], rate=RATE) and not speech.cached_part(parts[1], rate=RATE)
    first = heard(answer)
    assert first[0] == speech.cached_part("您是想咨询", rate=RATE)
    assert heard(answer) == first == [speech.cached_part(part, rate=RATE) for part in parts]


def test_fixed_texts_are_the_prompts_and_the_words_before_a_placeholder() -> None:
    menu = load_menu()
    fixed = menu.fixed_texts()
    assert menu.prompts["welcome"] in fixed and menu.prompts["search_confirm"] not in fixed
    assert {"您是想咨询", "您的工单", "您前面还有", "您说的是"} <= set(fixed)
    assert not [text for text in fixed if "{" in text or len(text) < 2]
