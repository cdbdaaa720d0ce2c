"""知识库概况 in headless Chromium: a reviewer opens it from the editor tabs, follows a year's count to
the list, and retires the expired documents (the confirmation box is required by the browser first)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.sync_api import Page, expect

import kb
from hotline.db import session_scope
from tests.conftest import make_user
from tests.e2e.test_kb_portal import log_in
from tests.web.test_public_portal import add_document


def test_reviewer_reads_the_corpus_and_retires_expired_documents(page: Page) -> None:
    add_document(
        "关于疫情防控期间开通公交608路的通告",
        "为做好疫情防控期间复工复产后公共交通服务，开通公交608路。",
        category="通知公告",
        published_at=date(2020, 2, 10),
        valid_until=date(2023, 1, 7),
    )
    add_document(
        "市政府召开复工复产工作会议",
        "2月21日，市政府召开会议。",
        category="新闻动态",
        published_at=date(2020, 2, 21),
    )
    add_document(
        "春节假期服务安排公告",
        "春节期间窗口暂停。",
        category="通知公告",
        valid_until=date.today() - timedelta(days=1),
    )
    make_user("rev", ["reviewer"])

    log_in(page, "rev")
    page.get_by_role("link", name="知识库概况").click()
    expect(page.get_by_role("heading", level=1, name="知识库概况：按分类与年份")).to_be_visible()
    expect(page.locator("#expired-count")).to_contain_text("共 2 篇")
    page.screenshot(path="/tmp/kb_corpus.png", full_page=True)

    page.get_by_role("row", name="新闻动态").get_by_role("link", name="1").first.click()
    expect(page.get_by_role("link", name="市政府召开复工复产工作会议")).to_be_visible()
    expect(page.get_by_text("发布年份：2020")).to_be_visible()

    page.go_back()
    page.get_by_role("button", name="全部下线").click()  # not confirmed: the browser keeps the form
    expect(page).to_have_url(re.compile(r"/editor/corpus$"))
    with session_scope() as s:
        assert len(kb.expired_ids(s)) == 2
    page.get_by_label("我已核对").check()
    page.get_by_role("button", name="全部下线").click()
    expect(page.get_by_text("已下线 2 篇过期文档。")).to_be_visible()
    expect(page.get_by_text("没有过期文档。")).to_be_visible()
    with session_scope() as s:
        assert kb.expired_ids(s) == []
