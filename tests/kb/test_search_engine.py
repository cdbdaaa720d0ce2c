"""kb.search on temporary indexes, the same behaviour from every engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from kb.search import ENGINES, IndexDoc, SearchIndex, open_index

TODAY = date(2026, 11, 25)

DOCS = [
    IndexDoc(
        id=1,
        external_id="gjj-1",
        title="住房公积金提取办理指南",
        category="办事指南",
        department="市住房公积金管理中心",
        keywords=["公积金", "提取"],
        body="职工购买、建造自住住房的，可以申请提取住房公积金账户余额。办理时请携带身份证和购房合同。",
    ),
    IndexDoc(
        id=2,
        external_id="yb-1",
        title="医疗保险费用报销",
        category="常见问题",
        department="市医疗保障局",
        question="看病的费用怎么报销？",
        answer="参保人员在定点医院就医后，医疗保险费用按规定直接结算。",
    ),
    IndexDoc(
        id=3,
        external_id="jzz-1",
        title="居住证办理须知",
        category="办事指南",
        department="市公安局",
        body="办理需要携带身份证和近期照片，到户籍窗口提交材料。",
    ),
    IndexDoc(
        id=4,
        external_id="wl-1",
        title="外来务工人员服务事项",
        category="办事指南",
        department="市人社局",
        body="外来务工人员可享受就业登记、技能培训、子女入学、居住证申领、法律援助、社会保险参保等多项服务，"
        "具体事项请咨询所在街道的便民服务中心。",
    ),
    IndexDoc(
        id=5,
        external_id="draft-1",
        title="公积金新政草稿",
        body="住房公积金贷款额度调整的草稿。",
        published=False,
    ),
    IndexDoc(
        id=6,
        external_id="old-1",
        title="公积金旧政策通知",
        category="通知公告",
        body="住房公积金缴存基数调整通知。",
        valid_until=date(2020, 1, 1),
    ),
    IndexDoc(
        id=7,
        external_id="xss-1",
        title="申请表填写说明<b>",
        category="办事指南",
        body='下载申请表<script>alert("x")</script>后按要求填写，再提交到服务窗口。',
    ),
]


@pytest.fixture(params=ENGINES)
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchIndex]:
    ix = open_index(tmp_path / "index", engine=request.param)
    ix.upsert(DOCS)
    yield ix


def ids(index: SearchIndex, query: str, **kw: object) -> list[int]:
    kw.setdefault("today", TODAY)
    return [h.id for h in index.search(query, **kw).hits]


def test_count_and_reopen(index: SearchIndex) -> None:
    assert index.count() == len(DOCS)
    again = open_index(index.directory, engine=index.engine_name)
    assert again.count() == len(DOCS)
    assert ids(again, "居住证")[0] == 3


def test_chinese_words_inside_sentences_are_found(index: SearchIndex) -> None:
    assert ids(index, "账户余额") == [1]
    assert ids(index, "购房合同")[0] == 1
    assert ids(index, "定点医院")[0] == 2
    assert ids(index, "怎么提取住房公积金？")[0] == 1


def test_full_width_query_is_folded(index: SearchIndex) -> None:
    doc = IndexDoc(id=20, external_id="x", title="ABC卡办理", body="办理ABC卡请带身份证。")
    index.upsert([doc])
    assert ids(index, "ＡＢＣ卡")[0] == 20


def test_title_match_ranks_first(index: SearchIndex) -> None:
    found = ids(index, "居住证")
    assert found[:2] == [3, 4]


def test_category_and_department_filters(index: SearchIndex) -> None:
    assert ids(index, "身份证") and set(ids(index, "身份证")) >= {1, 3}
    assert ids(index, "身份证", category="常见问题") == []
    assert ids(index, "身份证", department="市公安局") == [3]
    assert ids(index, "报销", category="常见问题", department="市医疗保障局") == [2]


def test_public_only_hides_drafts_and_expired(index: SearchIndex) -> None:
    public = ids(index, "公积金")
    assert public == [1]
    everything = ids(index, "公积金", public_only=False)
    assert set(everything) == {1, 5, 6}
    assert 6 in ids(index, "公积金", today=date(2019, 12, 31))
    assert 6 in ids(index, "公积金", today=date(2020, 1, 1)), "valid_until is the last valid day"


def test_delete_and_replace_take_effect_at_once(index: SearchIndex) -> None:
    index.delete([1])
    assert ids(index, "公积金") == []
    assert index.count() == len(DOCS) - 1
    index.upsert([IndexDoc(id=3, external_id="jzz-1", title="居住证申领", body="到派出所申领居住证。")])
    assert index.count() == len(DOCS) - 1
    assert ids(index, "派出所") == [3]
    assert ids(index, "近期照片") == []
    index.clear()
    assert index.count() == 0
    assert ids(index, "居住证") == []


def test_synonyms_expand_the_query(index: SearchIndex) -> None:
    assert ids(index, "医保") == []
    assert ids(index, "医保", synonyms=[["医保", "医疗保险"]])[0] == 2
    # 公积金 finds documents that only speak of 住房公积金 (segmentation), and a group expands it too
    assert ids(index, "公积金", synonyms=[["公积金", "住房公积金"]]) == [1]


def test_homophone_typo_still_finds_the_document(index: SearchIndex) -> None:
    outcome = index.search("公基金提取", today=TODAY)
    assert outcome.hits and outcome.hits[0].id == 1
    assert outcome.suggestion == "公积金提取"
    # speech-recognition style: every character right in sound, two wrong in writing
    assert ids(index, "住房公机金")[0] == 1


def test_did_you_mean_only_when_needed(index: SearchIndex) -> None:
    assert index.search("公积金提取", today=TODAY).suggestion is None
    assert index.search("居住正", today=TODAY).suggestion == "居住证"
    assert index.search("火星旅游", today=TODAY).suggestion is None


def test_snippets_and_titles_are_escaped_with_marks(index: SearchIndex) -> None:
    hit = index.search("申请表", today=TODAY).hits[0]
    assert hit.id == 7
    assert "<mark>申请表</mark>" in hit.snippet_html
    assert "&lt;script&gt;" in hit.snippet_html and "<script>" not in hit.snippet_html
    assert hit.title_html == "<mark>申请表</mark>填写说明&lt;b&gt;"


def test_long_snippet_is_cut_around_the_match(index: SearchIndex) -> None:
    body = "无关内容。" * 100 + "最低生活保障申请需要户口簿。" + "其他说明。" * 100
    index.upsert([IndexDoc(id=30, external_id="db", title="救助事项", body=body)])
    snippet = index.search("最低生活保障", today=TODAY).hits[0].snippet_html
    assert "<mark>最低生活保障</mark>" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) < 200


def test_popularity_is_a_mild_prior(index: SearchIndex) -> None:
    twins = [
        IndexDoc(id=40, external_id="a", title="燃气报修", body="燃气泄漏请拨打抢修电话。", popularity=0),
        IndexDoc(id=41, external_id="b", title="燃气报修", body="燃气泄漏请拨打抢修电话。", popularity=500),
    ]
    index.upsert(twins)
    assert ids(index, "燃气报修")[:2] == [41, 40]
    # mild: a clearly better text match still wins over popularity
    index.upsert([IndexDoc(id=42, external_id="c", title="供水", body="燃气", popularity=100000)])
    assert ids(index, "燃气泄漏抢修")[0] in (40, 41)


def test_paging_and_total(index: SearchIndex) -> None:
    docs = [
        IndexDoc(id=100 + i, external_id=f"p{i}", title=f"停水通知{i}", body="因管道维修临时停水。")
        for i in range(25)
    ]
    index.upsert(docs)
    first = index.search("停水", limit=10, today=TODAY)
    third = index.search("停水", limit=10, offset=20, today=TODAY)
    assert first.total == third.total == 25
    assert len(first.hits) == 10 and len(third.hits) == 5
    assert not {h.id for h in first.hits} & {h.id for h in third.hits}


@pytest.mark.parametrize("query", ["", "   ", "？！。", "的了吗"])
def test_empty_or_stop_word_queries_give_nothing_without_error(index: SearchIndex, query: str) -> None:
    outcome = index.search(query, today=TODAY)
    assert outcome.total == 0 and outcome.hits == []


def test_title_autocomplete(index: SearchIndex) -> None:
    assert index.suggest_titles("住房") == ["住房公积金提取办理指南"]
    assert index.suggest_titles("居住证")[0] == "居住证办理须知"
    assert "公积金新政草稿" not in index.suggest_titles("公积金"), "drafts are never suggested"
    assert "公积金旧政策通知" not in index.suggest_titles("公积金"), "expired documents are never suggested"
    assert index.suggest_titles("") == []
    assert len(index.suggest_titles("办理", limit=2)) <= 2


def test_unknown_engine_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown search engine"):
        open_index(tmp_path, engine="lucene")


def test_engines_rank_alike(tmp_path: Path) -> None:
    indexes = [open_index(tmp_path / name, engine=name) for name in ENGINES]
    for ix in indexes:
        ix.upsert(DOCS)
    for query in ["公积金提取", "身份证", "居住证", "报销", "服务窗口"]:
        rankings = [ids(ix, query) for ix in indexes]
        assert all(r == rankings[0] for r in rankings), (query, rankings)
