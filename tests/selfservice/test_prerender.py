"""The listed and most-read documents are in the TTS cache before their first caller: every part the IVR reads of
them (title, then each section's parts) is rendered ahead, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

import kb
import speech
from hotline.config import get_settings
from hotline.db import session_scope
from kb.importer import import_file
from selfservice.engine import category_listing, listing_prompt, prerender_documents, spoken_document
from selfservice.menu import load_menu
from tests.selfservice.conftest import DATA


def cached_files() -> set[Path]:
    return set(get_settings().audio_cache_dir.rglob("*.wav"))


def read_parts(menu, doc: kb.DocumentView) -> list[str]:  # noqa: ANN001 - a Menu
    title, sections = spoken_document(doc)
    texts = ([menu.say("document_title", title=title)] if title else []) + sections
    return [part for text in texts for part in speech.sentence_parts(text)]


def test_listed_and_most_read_documents_are_rendered_ahead_as_the_ivr_reads_them(
    hotline_env: Path, tmp_path: Path
) -> None:
    assert not import_file(DATA / "kb.jsonl", publish=True).errors
    extra = tmp_path / "news.jsonl"  # a category no key of the menu leads to
    rows = [
        {"external_id": f"news-{n}", "title": title, "category": "新闻动态", "body": f"{title}。今天举行。"}
        for n, title in enumerate(["市民热线年度工作会议召开", "热线服务标准化培训开班"])
    ]
    extra.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    assert not import_file(extra, publish=True).errors
    with session_scope() as s:
        s.scalars(select(kb.Document).where(kb.Document.title == rows[0]["title"])).one().views = 50
    menu = load_menu()
    assert prerender_documents(menu, 1, 8000) >= 2
    before = cached_files()
    with session_scope() as s:  # every listing the keys reach, as it is read out
        for category in ("政策法规", "办事指南"):
            entries = category_listing(s, category, 5)
            assert entries and speech.cached(listing_prompt(menu, category, entries), rate=8000)
        docs = {d.title: d for d in kb.popular_documents(s, limit=10)}
    for title in ("社会保障卡挂失补办指南", "住房公积金提取管理办法", rows[0]["title"]):  # listed, most read
        for part in read_parts(menu, docs[title]):
            speech.synthesize_part(part, rate=8000)
    assert cached_files() == before  # nothing left to render for their callers
    for part in read_parts(menu, docs[rows[1]["title"]]):
        speech.synthesize_part(part, rate=8000)
    assert cached_files() > before  # neither listed nor most read: not rendered ahead
    assert prerender_documents(menu, 0, 8000) == 0  # the setting's 0: none
