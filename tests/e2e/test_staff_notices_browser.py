"""Live notices in headless Chromium: a supervisor urges a case, and the department's open page shows the
new count and a toast without being reloaded."""

from __future__ import annotations

import re

import casework
from hotline.db import session_scope
from tests.casework.helpers import new_case
from tests.conftest import make_user
from tests.e2e.test_case_flow import log_in, shot
from web.routes import staffevents


def test_an_urge_shows_on_the_departments_open_page(browser, live_server, page, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: ANN001
    monkeypatch.setattr(staffevents, "POLL_SECONDS", 0.3)
    with session_scope() as s:
        case, _ = new_case(s, content="幸福小区南门路灯不亮，夜间出行不便。")
        dept = casework.department_by_name(s, "市住房和城乡建设局")
        casework.refer(s, case, dept, actor="agent1")
        number = case.case_number
    make_user("dep1", ["department"], department="市住房和城乡建设局", display_name="部门小王")
    make_user("sup1", ["supervisor"], display_name="督办老张")

    log_in(page, "dep1")
    page.goto("/department")
    count = page.locator("#staff-notices .count")
    assert count.inner_text() == "1"  # the new case, counted when the page was made
    page.evaluate("window.__same_page = true")  # gone if the page were reloaded

    supervisor = browser.new_context(base_url=live_server.url, locale="zh-CN").new_page()
    log_in(supervisor, "sup1")
    supervisor.goto(f"/supervisor/cases/{number}")
    supervisor.get_by_label("催办意见").fill("请今天内联系市民并反馈。")
    supervisor.get_by_role("button", name="催办", exact=True).click()
    supervisor.get_by_text("催办通知已发送").wait_for()
    supervisor.context.close()

    toast = page.locator(".notice-toast", has_text=number)
    toast.wait_for(timeout=10000)
    assert "催办" in toast.inner_text() and "请今天内联系市民并反馈" in toast.inner_text()
    page.wait_for_function("document.querySelector('#staff-notices .count').textContent === '2'")
    assert page.evaluate("window.__same_page") is True
    shot(page, "staff-notice-urge")

    toast.click()  # the notice leads to the case and is read
    page.wait_for_url(f"**/department/cases/{number}")
    assert page.locator("#staff-notices .count").inner_text() == "1"
    assert re.search("催办", page.content())
