"""Splitting bodies into short parts for reading aloud (DocumentView.sections)."""

from __future__ import annotations

from kb.sections import split_sections


def test_headings_start_parts_and_paragraphs_are_joined():
    body = "## 申请条件\n\n居住半年以上。\n\n## 申报材料\n\n1. 身份证；\n2. 租房合同。"
    assert split_sections(body) == ["申请条件\n居住半年以上。", "申报材料\n1. 身份证； 2. 租房合同。"]


def test_long_text_is_cut_at_sentence_ends_within_the_limit():
    sentence = "职工购买自住住房的，可以申请提取住房公积金。"  # 22 characters
    body = sentence * 40
    parts = split_sections(body, max_chars=100)
    assert all(len(p) <= 100 for p in parts)
    assert all(p.endswith("。") for p in parts)
    assert "".join(parts) == body


def test_a_sentence_longer_than_the_limit_is_cut_hard():
    parts = split_sections("长" * 250, max_chars=100)
    assert [len(p) for p in parts] == [100, 100, 50]


def test_empty_body_has_no_sections():
    assert split_sections("  \n\n ") == []
