"""The densest stretch of a text (kb.search.windows) and the snippets built on it."""

from __future__ import annotations

from kb.search.highlight import Highlighter
from kb.search.windows import densest_window


def one(_: str) -> float:
    return 1.0


def test_the_stretch_with_most_distinct_keys_wins() -> None:
    events = [(0, "a"), (5, "a"), (50, "b"), (55, "c"), (58, "a")]
    assert densest_window(events, one, span=10) == (3.0, 50)
    assert densest_window(events, one, span=7) == (2.0, 50)  # 50..55 (b, c), first of the heaviest


def test_weights_decide_over_counts() -> None:
    events = [(0, "a"), (3, "b"), (100, "rare")]
    weights = {"a": 1.0, "b": 1.0, "rare": 5.0}
    assert densest_window(events, weights.__getitem__, span=10) == (5.0, 100)


def test_repeated_keys_count_once() -> None:
    assert densest_window([(0, "a"), (1, "a"), (2, "a")], one, span=10) == (1.0, 0)
    assert densest_window([], one, span=10) == (0.0, 0)


def test_snippet_shows_the_densest_part_escaped_and_marked() -> None:
    text = "无关内容。" * 60 + "住房公积金提取需要身份证<原件>。" + "其他说明。" * 60
    snippet = Highlighter(["公积金", "提取", "身份证"]).snippet(text)
    assert "<mark>公积金</mark><mark>提取</mark>需要<mark>身份证</mark>&lt;原件&gt;" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")


def test_short_text_is_shown_whole() -> None:
    assert Highlighter(["提取"]).snippet("公积金提取") == "公积金<mark>提取</mark>"
