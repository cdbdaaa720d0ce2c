"""Full-text case search (casework/search.py) on both databases: PostgreSQL's tsvector and SQLite's FTS5
table give the same cases for words, sub-words, numbers and addresses, follow a case's changed text,
treat search syntax as plain words, and page newest first also past the counted total."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text

from casework import search
from casework.models import Case
from hotline.db import get_engine, session_scope
from tests.casework.helpers import new_case


def found(query: str, **filters: object) -> list[str]:
    with session_scope() as s:
        return [c.case_number for c in search.find(s, search.CaseFilter(q=query, **filters)).cases]  # type: ignore[arg-type]


def test_words_sub_words_numbers_and_addresses_find_the_same_cases_on_both_databases(
    hotline_env: Path,
) -> None:
    with session_scope() as s:
        rubbish, _ = new_case(
            s, content="小区垃圾无人清运，气味很大。", address="幸福路8号", caller_number="13700000001"
        )
        lights, _ = new_case(
            s, channel="web", content="路灯不亮。", contact="Zhang.San+12345@example.com", name="张三"
        )
        noise, _ = new_case(s, content="工地夜间施工噪音扰民。", district="南湖区")
        numbers = rubbish.case_number, lights.case_number, noise.case_number
    assert found("垃圾清运") == [numbers[0]]  # as jieba's sub-words / bigrams of the case's text
    assert found("幸福路") == [numbers[0]]
    assert found("13700000001") == [numbers[0]]
    assert found(numbers[2]) == [numbers[2]]
    assert found("zhang.san+12345@example.com") == [numbers[1]]  # a contact with punctuation, whole
    assert found("张三 路灯") == [numbers[1]]
    assert found("南湖区 噪音") == [numbers[2]]
    assert found("垃圾 路灯") == []  # every word must match
    assert found("不存在的内容词") == []
    assert found("噪音", channel="web") == [] and found("路灯", channel="web") == [numbers[1]]


def test_a_changed_text_is_searched_as_changed(hotline_env: Path) -> None:
    """What the voicemail transcription does: new content, new search terms, in the same transaction."""
    with session_scope() as s:
        case, _ = new_case(s, content="（语音留言，转写中）")
        number = case.case_number
    with session_scope() as s:
        case = s.query(Case).filter_by(case_number=number).one()
        case.content = "自来水管爆裂，楼道积水。"
        case.search_text = search.case_index_text(case)
    assert found("水管爆裂") == [number] and found("转写") == []


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "'",
        "\\",
        "AND",
        "OR NOT",
        "a*",
        "(路灯",
        "NEAR(路灯 垃圾)",
        "路灯:",
        "%_",
        "col:x",
        "^路灯",
        "-路灯",
    ],
)
def test_search_syntax_in_a_query_is_taken_as_plain_words(hotline_env: Path, query: str) -> None:
    with session_scope() as s:
        case, _ = new_case(s, content="路灯不亮，请维修。")
        number = case.case_number
    result = found(query)  # never an error
    assert result in ([], [number])


def test_pages_are_newest_first_past_the_counted_total(
    hotline_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past COUNT_LIMIT a list says "7+"; a PostgreSQL search without filters past FETCH_ALL says
    "约 12" (the index's count). The pages are the same."""
    monkeypatch.setattr(search, "COUNT_LIMIT", 7)
    monkeypatch.setattr(search, "FETCH_ALL", 7)
    with session_scope() as s:
        numbers = [new_case(s, content=f"第{i}号路灯不亮。")[0].case_number for i in range(12)]
        new_case(s, content="小区垃圾无人清运。")
    postgres = get_engine().dialect.name == "postgresql"
    with session_scope() as s:
        first = search.find(s, search.CaseFilter(q="路灯"), page=1, per_page=5)
        if postgres:
            assert first.estimated and not first.capped and first.total == 12 and first.pages == 3
        else:
            assert first.capped and first.total == 7 and first.pages == 2
        assert [c.case_number for c in first.cases] == numbers[::-1][:5]
        second = search.find(s, search.CaseFilter(q="路灯"), page=2, per_page=5)
        assert [c.case_number for c in second.cases] == numbers[::-1][5:10]
        exact = search.find(s, search.CaseFilter(q="垃圾"), page=1, per_page=5)
        assert not exact.capped and not exact.estimated and exact.total == 1
        # with a filter: SQLite counts to COUNT_LIMIT, PostgreSQL reads the blocks (here all: exact)
        phone = search.find(s, search.CaseFilter(q="路灯", channel="phone"), page=2, per_page=5)
        assert [c.case_number for c in phone.cases] == numbers[::-1][5:10]
        expected = (12, False, False) if postgres else (7, True, False)
        assert (phone.total, phone.capped, phone.estimated) == expected


def test_postgresql_finds_the_newest_matches_block_by_block(
    hotline_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past FETCH_ALL (COUNT_LIMIT with a filter), PostgreSQL reads the matches by blocks of ids from
    the newest back (and halves a range with too many): the pages are the same as sorting every match."""
    if get_engine().dialect.name != "postgresql":
        pytest.skip("the id blocks are PostgreSQL's (SQLite's FTS5 gives its matches in id order)")
    numbers = []
    for block in (0, 2, 5):
        with session_scope() as s:
            if block:
                s.execute(text("SELECT setval('cases_id_seq', :at)"), {"at": block * search.ID_BLOCK + 10})
            numbers += [new_case(s, content=f"第{block}{i}号路灯不亮。")[0].case_number for i in range(3)]
            new_case(s, content="小区垃圾无人清运。")
    newest_first = numbers[::-1]
    monkeypatch.setattr(search, "FETCH_ALL", 2)
    monkeypatch.setattr(search, "COUNT_LIMIT", 2)
    for dense in (search.DENSE_RANGE, 2):
        monkeypatch.setattr(search, "DENSE_RANGE", dense)
        with session_scope() as s:
            assert search.index_count(s, search.tsquery_text("路灯") or "") == 9
            pages = [search.find(s, search.CaseFilter(q="路灯"), page=n, per_page=4) for n in (1, 2, 3)]
            within = [
                search.find(s, search.CaseFilter(q="路灯", channel="phone"), page=n, per_page=per_page)
                for n, per_page in ((1, 4), (3, 4), (1, 2))
            ]
        assert all(p.estimated and p.total == 9 and p.pages == 3 for p in pages)
        assert [[c.case_number for c in p.cases] for p in pages] == [
            newest_first[:4],
            newest_first[4:8],
            newest_first[8:],
        ]
        # with a filter: the blocks read until the page is full; the total exact when every block was
        # read, else 约 (the 9 index matches times the share of those read that passed the filter: all)
        assert [[c.case_number for c in p.cases] for p in within] == [
            newest_first[:4],
            newest_first[8:],
            newest_first[:2],
        ]
        assert [p.total for p in within] == [9, 9, 9] and within[2].estimated
        assert not within[1].estimated  # the last page needed every block


def test_the_migration_indexes_the_cases_already_there(sqlite_env: Path) -> None:
    """SQLite: casework_0010 fills the FTS5 table from the cases registered before it."""
    with session_scope() as s:
        case, _ = new_case(s, content="小区垃圾无人清运。")
        number = case.case_number
    revision = importlib.import_module("casework.migrations.casework_0010_case_fts")
    with get_engine().begin() as conn, Operations.context(MigrationContext.configure(conn)):
        revision.downgrade()
        assert "case_fts" not in {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master"))}
        revision.upgrade()
    assert found("垃圾清运") == [number]


def test_an_export_holds_every_match_newest_first_also_past_the_counted_total(
    hotline_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`search.all_of` (the Excel export): on PostgreSQL past FETCH_ALL the matches are read block by
    block, with and without other filters; on SQLite the ordered statement."""
    monkeypatch.setattr(search, "COUNT_LIMIT", 7)
    monkeypatch.setattr(search, "FETCH_ALL", 7)
    with session_scope() as s:
        numbers = [new_case(s, content=f"第{i}号路灯不亮。")[0].case_number for i in range(12)]
        new_case(s, content="小区垃圾无人清运。")
    with session_scope() as s:
        def exported(limit: int = search.EXPORT_LIMIT, **filters: object) -> list[str]:
            stmt = search.filtered(s, search.CaseFilter(q="路灯", **filters))  # type: ignore[arg-type]
            return [c.case_number for c in search.all_of(s, stmt, limit)]

        assert exported() == numbers[::-1]
        assert exported(5) == numbers[::-1][:5]
        assert exported(channel="phone") == numbers[::-1]
        assert exported(channel="web") == []
