"""The search results cache (kb.search.SearchIndex.results_cached): a repeated search on the same index
commit is answered from memory, and anything that can change the answer (a commit by this or another
process, the synonyms, the day, the filters, the page) asks the engine again."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from kb.search import ENGINES, IndexDoc, open_index

TODAY = date(2026, 11, 25)
GUIDE = IndexDoc(
    id=1, external_id="g1", title="住房公积金提取办理指南", body="可以申请提取住房公积金账户余额。"
)
NEW = IndexDoc(id=2, external_id="g2", title="公积金贷款申请", body="缴存职工可以申请住房公积金贷款。")


@pytest.mark.parametrize("engine", ENGINES)
def test_repeat_is_cached_and_commits_are_seen(tmp_path: Path, engine: str) -> None:
    index = open_index(tmp_path, engine)
    index.upsert([GUIDE])
    first = index.search("公积金", today=TODAY)
    assert index.search("公积金", today=TODAY) is first  # the same outcome, not computed again
    assert index.search("公积金", today=TODAY, limit=1) is not first
    index.upsert([NEW])  # a commit: the cached answer is stale
    after = index.search("公积金", today=TODAY)
    assert {h.id for h in after.hits} == {1, 2} and after is not first
    index.delete([1])
    assert [h.id for h in index.search("公积金", today=TODAY).hits] == [2]


@pytest.mark.parametrize("engine", ENGINES)
def test_synonyms_and_day_are_part_of_the_question(tmp_path: Path, engine: str) -> None:
    index = open_index(tmp_path, engine)
    index.upsert([GUIDE])
    assert index.search("房改金", today=TODAY).total == 0
    assert index.search("房改金", today=TODAY, synonyms=[["房改金", "公积金"]]).total == 1
    expiring = IndexDoc(id=3, external_id="e", title="公积金临时政策", body="公积金", valid_until=TODAY)
    index.upsert([expiring])
    assert 3 in {h.id for h in index.search("公积金临时政策", today=TODAY).hits}
    assert 3 not in {h.id for h in index.search("公积金临时政策", today=date(2026, 11, 26)).hits}


def test_another_process_commit_is_seen(tmp_path: Path) -> None:
    index = open_index(tmp_path)
    index.upsert([GUIDE])
    assert index.search("贷款", today=TODAY).total == 0
    code = (
        "import sys; from pathlib import Path; from kb.search import IndexDoc, open_index; "
        f"open_index(Path(sys.argv[1])).upsert([IndexDoc(id=2, external_id='g2', title={NEW.title!r}, body={NEW.body!r})])"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, cwd=Path(__file__).parents[2])
    assert [h.id for h in index.search("贷款", today=TODAY).hits] == [2]


def test_no_cache_when_turned_off(tmp_path: Path) -> None:
    index = open_index(tmp_path, results_cached=0)
    index.upsert([GUIDE])
    assert index.search("公积金", today=TODAY) is not index.search("公积金", today=TODAY)
    small = open_index(tmp_path / "small", results_cached=2)
    small.upsert([GUIDE])
    kept = small.search("公积金", today=TODAY)
    small.search("提取", today=TODAY)
    small.search("住房", today=TODAY)  # the oldest outcome makes room
    assert small.search("公积金", today=TODAY) is not kept
