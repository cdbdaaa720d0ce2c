"""Query rewriting: which bigram and proximity (phrase) clauses a question keeps."""

from __future__ import annotations

from kb.search import analysis, query
from kb.search import schema as sch

QUESTION = "北京市对受疫情影响的中小微企业的房租减免政策和社保缓缴政策有哪些具体规定"


def pairs(plan: query.QueryPlan) -> list[list[str]]:
    return [p.words for p in plan.phrases]


def test_without_document_statistics_the_first_pairs_are_kept() -> None:
    plan = query.build(QUESTION)
    assert 0 < len(plan.phrases) <= sch.PHRASE_LIMIT
    assert pairs(plan)[0] == analysis.words(QUESTION)[:2]


def test_common_pairs_are_dropped_and_rare_pairs_come_first() -> None:
    common = {"疫情", "影响", "政策"}
    rare = {"房租": 0.001, "减免": 0.01}

    def ratio(word: str) -> float:
        return 0.9 if word in common else rare.get(word, 0.05)

    kept = pairs(query.build(QUESTION, doc_ratio=ratio))
    assert len(kept) <= sch.PHRASE_LIMIT
    assert kept[0] == ["房租", "减免"]
    assert all(min(ratio(a), ratio(b)) <= sch.PHRASE_MAX_DF for a, b in kept)
    assert ["疫情", "影响"] not in kept


def test_words_missing_from_the_index_make_no_phrase() -> None:
    plan = query.build("公积金 提取", doc_ratio=lambda word: 0.0 if word == "提取" else 0.1)
    assert plan.phrases == []
    assert plan.terms  # the words are still searched one by one


def grams(plan: query.QueryPlan) -> set[str]:
    return {c.term for c in plan.terms if c.field == sch.GRAMS_FIELD}


def test_bigrams_do_not_cross_stop_words() -> None:
    got = grams(query.build("税务局对纳税人提供的服务"))
    assert {"税务", "务局", "纳税", "税人", "服务"} <= got
    assert not {"局对", "对纳", "供的", "的服"} & got  # across 对 and 的
    assert "人提" in got  # across two content words: kept (names segmented differently still meet)


def test_a_query_of_one_run_keeps_all_its_bigrams() -> None:
    assert grams(query.build("住房公积金提取")) == set(analysis.char_bigrams("住房公积金提取"))
