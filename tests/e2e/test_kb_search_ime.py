"""Search as you type in headless Chromium with a Chinese input method: nothing is searched (and no
"没有找到" flashes) while pinyin is being composed; the characters chosen at compositionend are."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web.test_public_portal import GJJ_BODY, add_document


def test_typing_through_an_input_method_searches_the_chosen_characters_only(page: Page) -> None:
    add_document("住房公积金提取办理指南", GJJ_BODY, keywords=["公积金", "提取"])
    searched: list[str] = []
    page.on("request", lambda r: searched.append(r.url) if "/search?" in r.url else None)
    page.goto("/")
    box = page.get_by_label("输入您要查询的问题")
    box.focus()
    cdp = page.context.new_cdp_session(page)
    for typed in ("g", "gong", "gongji", "gongjijin"):  # the IME shows pinyin while composing
        cdp.send("Input.imeSetComposition", {"text": typed, "selectionStart": len(typed), "selectionEnd": len(typed)})
        page.wait_for_timeout(150)
    page.wait_for_timeout(700)  # longer than the 300 ms typing delay
    assert searched == []
    expect(page.get_by_text("没有找到")).to_have_count(0)
    cdp.send("Input.insertText", {"text": "公积金"})  # the candidate chosen: compositionend
    first = page.locator("#results .kb-results li").first
    expect(first).to_contain_text("住房公积金提取办理指南")
    assert searched and all("gong" not in url for url in searched)
    expect(page.get_by_text("没有找到")).to_have_count(0)


def test_a_question_without_answer_shows_the_nearest_and_carries_it_to_the_message_form(page: Page) -> None:
    add_document("住房公积金提取办理指南", GJJ_BODY, keywords=["公积金", "提取"])
    page.goto("/")
    page.get_by_label("输入您要查询的问题").press_sequentially("公积金能买火星船票吗", delay=40)
    expect(page.get_by_text("没有找到直接回答")).to_be_visible()
    expect(page.locator(".kb-nearest li").first).to_contain_text("仅供参考")
    page.get_by_role("link", name="我要留言提问").click()
    expect(page.get_by_label("诉求内容")).to_have_value("公积金能买火星船票吗")
