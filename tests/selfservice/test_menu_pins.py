"""The IVR reads a category listing as editors curated it: pinned documents first, in their order, then
a stable order; short, with 0 announced first and the repeat key (simulator, both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import kb
from hotline.db import session_scope

pytestmark = pytest.mark.usefixtures("ivr_env_both")

GJJ = "住房公积金提取管理办法"
AGENCY = "广州市房地产中介服务管理条例"


def _doc_id(title: str) -> int:
    with session_scope() as session:
        return session.scalar(select(kb.Document.id).where(kb.Document.title == title))


def _listing(prompts: list[str]) -> str:
    return next(p for p in prompts if p.startswith("以下是政策法规的主要内容"))


def test_an_unpinned_category_reads_the_same_stable_listing_on_every_call(call) -> None:
    first = _listing(call("press 1\nhangup").prompts)
    with session_scope() as session:  # views must not reorder the keys
        for _ in range(5):
            kb.record_view(session, _doc_id(AGENCY), "ivr")
    assert _listing(call("press 1\nhangup").prompts) == first
    assert first.index(GJJ) < first.index(AGENCY)  # undated: in the order they were added


def test_the_caller_hears_the_pinned_titles_in_the_pinned_order_and_the_key_reads_the_pin(call) -> None:
    with session_scope() as session:
        kb.set_pins(session, "政策法规", [_doc_id(AGENCY)], actor="editor")
    result = call("press 1\npress 1\nhangup")
    listing = _listing(result.prompts)
    assert listing.startswith("以下是政策法规的主要内容。人工服务请按0。")  # 0 before the items
    assert f"第1项请按1，{AGENCY}。第2项请按2，{GJJ}。" in listing
    assert listing.endswith("重听请按9，返回上一级请按星号键，返回主菜单请按井号键。")
    assert f"doc:{_doc_id(AGENCY)}" in result.record.path
    spoken = "".join(result.prompts[result.prompts.index(listing) + 1 :])
    assert spoken.count(AGENCY) == 1  # the title is read once


def test_repeat_key_reads_the_same_pinned_listing_again(call) -> None:
    with session_scope() as session:
        kb.set_pins(session, "政策法规", [_doc_id(AGENCY), _doc_id(GJJ)], actor="editor")
    result = call("press 1\npress 9\nhangup")
    listings = [p for p in result.prompts if p.startswith("以下是政策法规的主要内容")]
    assert len(listings) == 2 and listings[0] == listings[1]
    assert listings[0].index(AGENCY) < listings[0].index(GJJ)
