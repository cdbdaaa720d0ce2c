"""Synonym groups (and their effect on search), the search-gap log, migrations on both backends."""

from __future__ import annotations

import pytest

import kb
from hotline.audit import history
from hotline.db import session_scope
from tests.kb.helpers import public_ids, published_document


def test_migration_seeds_default_synonyms(hotline_env):
    with session_scope() as s:
        groups = [g.words for g in kb.list_synonym_groups(s)]
    assert ["公积金", "住房公积金"] in groups
    assert any("医保" in g and "医疗保险" in g for g in groups)
    assert any("社保" in g and "社会保险" in g for g in groups)


def test_synonym_group_changes_what_search_finds(hotline_env):
    doc_id = published_document(
        "共享单车停放规定", category="政策法规", body="共享单车应当在划定的停放区域内停放。"
    )
    assert public_ids("小黄车乱停", log_gaps=False) == []
    with session_scope() as s:
        group = kb.save_synonym_group(s, ["小黄车", "共享单车", "小黄车"], actor="carol")
        group_id = group.id
        assert group.words == ["小黄车", "共享单车"]
    assert public_ids("小黄车乱停", log_gaps=False) == [doc_id]
    with session_scope() as s:
        kb.save_synonym_group(s, ["小黄车", "公共自行车"], actor="carol", group_id=group_id)
    assert public_ids("小黄车乱停", log_gaps=False) == []
    with session_scope() as s:
        kb.delete_synonym_group(s, group_id, actor="carol")
    with session_scope() as s:
        assert [e.action for e in history(s, "kb_synonyms", group_id)] == [
            "kb.synonyms.create",
            "kb.synonyms.update",
            "kb.synonyms.delete",
        ]


def test_synonym_group_validation(hotline_env):
    with session_scope() as s:
        with pytest.raises(kb.KbError, match="两个"):
            kb.save_synonym_group(s, ["公积金", " 公积金 "], actor="carol")
        with pytest.raises(kb.KbError, match="不存在"):
            kb.save_synonym_group(s, ["甲", "乙"], actor="carol", group_id=999)
        with pytest.raises(kb.KbError, match="不存在"):
            kb.delete_synonym_group(s, 999, actor="carol")


def test_gaps_are_logged_per_channel_counted_resolved_and_reopened(hotline_env):
    published_document()
    with session_scope() as s:
        assert kb.search(s, "火星  移民签证", channel="ivr").total == 0
        kb.search(s, "火星 移民签证", channel="ivr")
        kb.search(s, "火星 移民签证", channel="web")
        kb.search(s, "公积金提取", channel="web")
        kb.search(s, "火星 旅游", channel="agent", log_gaps=False)
    with session_scope() as s:
        gaps = kb.list_gaps(s)
        assert [(g.query, g.channel, g.count) for g in gaps] == [
            ("火星 移民签证", "ivr", 2),
            ("火星 移民签证", "web", 1),
        ]
        kb.resolve_gap(s, gaps[0].id, actor="carol")
    with session_scope() as s:
        assert [g.channel for g in kb.list_gaps(s)] == ["web"]
        assert [g.resolved_by for g in kb.list_gaps(s, resolved=True)] == ["carol"]
        with pytest.raises(kb.KbError):
            kb.resolve_gap(s, 999_999, actor="carol")
    with session_scope() as s:
        kb.search(s, "火星 移民签证", channel="ivr")
    with session_scope() as s:
        assert [(g.channel, g.count) for g in kb.list_gaps(s)] == [("ivr", 3), ("web", 1)]


def test_empty_query_finds_nothing_and_logs_nothing(hotline_env):
    with session_scope() as s:
        result = kb.search(s, "   ")
        assert (result.total, result.hits) == (0, [])
        assert kb.suggest(s, " ") == []
        assert kb.list_gaps(s) == []


def test_suggest_offers_public_titles_only(hotline_env):
    published_document()
    with session_scope() as s:
        kb.create_document(
            s,
            kb.DocumentInput(title="住房公积金贷款指南（草稿）", category="办事指南", body="草稿内容"),
            actor="alice",
        )
    with session_scope() as s:
        assert kb.suggest(s, "住房公积") == ["住房公积金提取办理指南"]
