"""The most-read documents are in the TTS cache before their first caller: every part the IVR reads of
them (title, then each section's parts) is rendered ahead, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

import kb
import speech
from hotline.config import get_settings
from hotline.db import session_scope
from kb.importer import import_file
from selfservice.engine import prerender_documents, spoken_document
from selfservice.menu import load_menu
from tests.selfservice.conftest import DATA


def cached_files() -> set[Path]:
    return set(get_settings().audio_cache_dir.rglob("*.wav"))


def read_parts(menu, doc: kb.DocumentView) -> list[str]:  # noqa: ANN001 - a Menu
    title, sections = spoken_document(doc)
    texts = ([menu.say("document_title", title=title)] if title else []) + sections
    return [part for text in texts for part in speech.sentence_parts(text)]


def test_the_most_read_document_is_rendered_ahead_as_the_ivr_reads_it(hotline_env: Path) -> None:
    assert not import_file(DATA / "kb.jsonl", publish=True).errors
    with session_scope() as s:
        most = s.scalars(select(kb.Document).where(kb.Document.title == "社会保障卡挂失补办指南")).one()
        most.views = 50
    menu = load_menu()
    assert prerender_documents(menu, 1, 8000) >= 2
    with session_scope() as s:
        docs = {d.title: d for d in kb.popular_documents(s, limit=10)}
    before = cached_files()
    for part in read_parts(menu, docs["社会保障卡挂失补办指南"]):
        speech.synthesize_part(part, rate=8000)
    assert cached_files() == before  # nothing left to render for its callers
    for part in read_parts(menu, docs["居民身份证换领办事指南"]):
        speech.synthesize_part(part, rate=8000)
    assert cached_files() > before  # a document read less was not rendered ahead
    assert prerender_documents(menu, 0, 8000) == 0  # the setting's 0: none
