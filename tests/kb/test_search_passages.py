"""Passage evidence: the share of a question's bigram weight in a title and one stretch of text."""

from __future__ import annotations

import pytest

from kb.search.passages import PassageScorer

WEIGHTS = {"房租": 4.0, "减免": 3.0, "企业": 1.0}


def test_bigrams_together_in_one_stretch_cover_the_question() -> None:
    text = "为支持中小企业渡过难关，对承租国有房产的企业减免房租三个月。"
    assert PassageScorer(WEIGHTS).coverage("", text, width=40) == pytest.approx(1.0)


def test_bigrams_far_apart_count_only_as_much_as_the_best_stretch() -> None:
    text = "房租" + "。" * 200 + "减免" + "。" * 200 + "企业"
    assert PassageScorer(WEIGHTS).coverage("", text, width=100) == pytest.approx(4.0 / 8.0)
    assert PassageScorer(WEIGHTS).coverage("", text, width=500) == pytest.approx(1.0)


def test_the_stretch_holds_whole_bigrams() -> None:
    text = "房租减免"  # 房租 at 0, 减免 at 2: both inside 4 characters, not inside 3
    assert PassageScorer(WEIGHTS).coverage("", text, width=4) == pytest.approx(7.0 / 8.0)
    assert PassageScorer(WEIGHTS).coverage("", text, width=3) == pytest.approx(4.0 / 8.0)


def test_title_bigrams_count_wherever_the_stretch_is() -> None:
    text = "减免" + "。" * 300 + "企业"
    got = PassageScorer(WEIGHTS).coverage("关于减免房租的通知", text, width=50)
    assert got == pytest.approx((4.0 + 3.0 + 1.0) / 8.0)


def test_overlapping_occurrences_are_found() -> None:
    scorer = PassageScorer({"一一": 1.0, "一二": 1.0})
    assert scorer.coverage("", "一一一二", width=10) == pytest.approx(1.0)


def test_no_weights_no_evidence() -> None:
    assert PassageScorer({}).coverage("标题", "正文", width=10) == 0.0
    assert PassageScorer({"房租": 0.0}).coverage("房租", "房租", width=10) == 0.0
