"""The knowledge base in headless Chromium: a citizen searching as they type, and editor -> reviewer -> publish."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.conftest import make_user
from tests.web.test_public_portal import GJJ_BODY, add_document

SCREENSHOTS = "/tmp/kb_{name}.png"


def test_citizen_search_as_you_type_and_open_document(page: Page) -> None:
    add_document("住房公积金提取办理指南", GJJ_BODY, department="市住房公积金管理中心")
    add_document("社会保障卡补办流程", "社会保障卡丢失后，可到任一社保经办网点补办，需携带身份证。")
    page.goto("/")
    expect(page.get_by_role("heading", name="热门问题")).to_be_visible()
    page.screenshot(path=SCREENSHOTS.format(name="home"), full_page=True)

    box = page.get_by_label("输入您要查询的问题")
    box.press_sequentially("公积金提取", delay=60)
    first = page.locator("#results .kb-results li").first
    expect(first).to_contain_text("住房公积金提取办理指南")
    expect(first.locator("mark").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"/search\?q="))  # the address can be shared / bookmarked
    expect(page.locator('#kb-titles option[value="住房公积金提取办理指南"]')).to_have_count(1)  # autocomplete
    page.screenshot(path=SCREENSHOTS.format(name="search"), full_page=True)

    first.get_by_role("link", name="住房公积金提取办理指南").click()
    expect(page.get_by_role("heading", level=1, name="住房公积金提取办理指南")).to_be_visible()
    page.get_by_role("button", name="有帮助", exact=True).click()
    expect(page.get_by_text("感谢您的反馈")).to_be_visible()
    page.screenshot(path=SCREENSHOTS.format(name="document"), full_page=True)

    page.goto("/")
    page.get_by_label("输入您要查询的问题").press_sequentially("火星移民", delay=60)
    expect(page.get_by_text("没有找到与“火星移民”相关的信息")).to_be_visible()
    expect(page.get_by_role("link", name="我要留言提问")).to_be_visible()


def log_in(page: Page, username: str) -> None:
    page.goto("/login?next=/editor")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("correct-horse")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/editor")


def test_editor_writes_reviewer_publishes_citizen_finds(page: Page) -> None:
    make_user("ed", ["editor"], display_name="编辑小王")
    make_user("rev", ["reviewer"], display_name="审核老李")

    log_in(page, "ed")
    page.get_by_role("link", name="新建文档").click()
    page.get_by_label("标题").fill("犬只登记办理指南")
    page.get_by_label("分类").select_option("办事指南")
    page.get_by_label("部门", exact=True).fill("市公安局")
    page.locator("#f-body").fill("# 办理材料\n- 犬只免疫证明\n- 养犬人身份证")
    expect(page.locator("#preview h1")).to_have_text("办理材料")  # live preview
    page.screenshot(path=SCREENSHOTS.format(name="editor_form"), full_page=True)
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("已保存为草稿")).to_be_visible()
    page.get_by_role("button", name="提交审核").click()
    expect(page.get_by_text("已提交审核")).to_be_visible()
    expect(page.get_by_role("button", name="审核通过并发布")).to_have_count(0)
    page.get_by_role("button", name=re.compile("退出")).click()

    log_in(page, "rev")
    page.get_by_role("link", name="待审核").click()
    page.get_by_role("link", name="犬只登记办理指南").click()
    page.get_by_role("button", name="审核通过并发布").click()
    expect(page.get_by_text("已审核通过并发布")).to_be_visible()
    page.get_by_role("button", name=re.compile("退出")).click()

    page.goto("/")
    page.get_by_label("输入您要查询的问题").press_sequentially("犬只登记", delay=60)
    result = page.locator("#results .kb-results li").first
    expect(result).to_contain_text("犬只登记办理指南")
    result.get_by_role("link").first.click()
    expect(page.get_by_role("listitem").filter(has_text="犬只免疫证明")).to_be_visible()
