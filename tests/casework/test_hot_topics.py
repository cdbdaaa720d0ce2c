"""Hot topics of the daily brief (casework.hottopics): real citizen messages about one matter land in one
topic labelled by what they are about (never by generic words or category names); one or two cases are no
topic; the same cases give the same topics on every run, in any order."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

import casework
from casework.calendar import LOCAL_TZ
from casework.hottopics import GENERIC, MIN_CASES, hot_topics
from hotline.config import REPO_ROOT
from hotline.db import session_scope

MESSAGES = REPO_ROOT / "data" / "casework" / "seed_messages.jsonl"  # real messages (TipDM 2020 C)
THEMES = ("公积金", "幼儿园", "出租车", "地铁")
CATEGORY_NAMES = {"咨询", "求助", "投诉", "举报", "建议", "表扬", "城乡建设", "交通运输", "教育文体"}


def _day() -> tuple[dict[str, str], dict[str, set[str]]]:
    """A day of 64 real messages: six on each theme (by their subject line), forty on other matters."""
    rows = [json.loads(line) for line in MESSAGES.read_text(encoding="utf-8").splitlines()]
    texts: dict[str, str] = {}
    themed: dict[str, set[str]] = {}
    for theme in THEMES:
        chosen = [r for r in rows if theme in r["topic"]][:6]
        themed[theme] = {f"T{r['id']}" for r in chosen}
        texts.update({f"T{r['id']}": f"{r['topic']} {r['content'][:300]}" for r in chosen})
    others = [r for r in rows if not any(t in r["topic"] + r["content"] for t in THEMES)][:40]
    texts.update({f"T{r['id']}": f"{r['topic']} {r['content'][:300]}" for r in others})
    return texts, themed


def test_messages_about_one_matter_form_one_topic_named_by_it() -> None:
    texts, themed = _day()
    assert len(texts) == 64
    topics = hot_topics(texts, limit=20)
    for theme, cases in themed.items():
        best = max(topics, key=lambda t: len(cases & set(t.case_numbers)))
        assert len(cases & set(best.case_numbers)) >= 4, (theme, [(t.label, t.count) for t in topics])
        assert any(theme in word or word in theme for word in best.keywords), (theme, best.label)
    for topic in topics:
        assert topic.count == len(topic.case_numbers) >= MIN_CASES
        assert not set(topic.keywords) & (GENERIC | CATEGORY_NAMES), topic.label
        assert 1 <= len(topic.keywords) <= 4


def test_the_same_cases_give_the_same_topics_in_any_order() -> None:
    texts, _ = _day()
    first = hot_topics(texts)
    again = hot_topics(dict(reversed(list(texts.items()))))
    assert first and first == again
    assert [t.count for t in first] == sorted((t.count for t in first), reverse=True)


def test_one_or_two_cases_are_no_topic() -> None:
    texts, themed = _day()
    pair = {n: texts[n] for n in sorted(themed["公积金"])[:2]}
    assert hot_topics(pair) == []
    assert hot_topics({}) == []


@pytest.mark.usefixtures("sqlite_env")
def test_the_daily_brief_lists_the_days_topics() -> None:
    texts, themed = _day()
    with session_scope() as db:
        for number in sorted(themed["幼儿园"]) + sorted(texts)[:10]:
            casework.create_case(db, channel="web", caller_number="13800138000", content=texts[number][:500])
    with session_scope() as db:
        brief = casework.daily_brief(db, datetime.now(LOCAL_TZ).date())
        html = casework.render_daily_brief_html(brief)
    assert any("幼儿园" in t.keywords for t in brief.hot_topics), [t.label for t in brief.hot_topics]
    assert "幼儿园" in html.split("一、热点问题", 1)[1].split("二、诉求类别", 1)[0]
