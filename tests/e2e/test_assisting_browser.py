"""主办 + 协办 in headless Chromium: the agent's referral form with assisting departments (the lead cannot be
ticked as one), the assisting department's opinion, the lead reading it."""

from __future__ import annotations

import re

import casework
from hotline.db import session_scope
from tests.casework.helpers import new_case
from tests.conftest import make_user
from tests.e2e.test_case_flow import log_in, log_out, shot

LEAD, HELPER = "市住房和城乡建设局", "市城市管理局"
OPINION = "该店占道经营，城管可配合联合执法。"


def test_agent_refers_with_an_assisting_department_that_gives_its_opinion(page) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        case, _ = new_case(s, content="幸福路烧烤店油烟和噪音扰民，晚上十二点还在营业。")
        number = case.case_number
    make_user("agent1", ["agent"])
    make_user("city1", ["department"], department=HELPER)
    make_user("lead1", ["department"], department=LEAD)

    log_in(page, "agent1")
    page.goto(f"/agent/cases/{number}")
    form = page.locator("form.refer")
    form.get_by_label("承办部门").select_option(label=LEAD)
    others = form.locator("details summary")
    if others.count():
        others.click()
    assert form.get_by_role("checkbox", name=LEAD).is_disabled()  # the lead is no assisting department
    form.get_by_role("checkbox", name=HELPER).check()
    shot(page, "referral-with-assisting")
    form.get_by_role("button", name="转派", exact=True).click()
    page.get_by_text("已转派承办部门，并通知协办单位。").wait_for()
    assert page.locator(".assist-units").inner_text() == HELPER
    log_out(page)

    log_in(page, "city1")
    page.goto("/department/queues")
    page.get_by_role("link", name=re.compile("待提协办意见")).click()
    page.get_by_role("link", name=number).click()
    page.wait_for_url(f"**/department/cases/{number}")
    assert page.get_by_text("本单位为协办单位").is_visible()
    assert page.get_by_role("button", name="提交办结反馈").count() == 0
    page.get_by_label(re.compile("协办意见")).fill(OPINION)
    page.get_by_role("button", name="提交协办意见").click()
    page.get_by_text("协办意见已提交").wait_for()
    log_out(page)

    log_in(page, "lead1")
    page.goto(f"/department/cases/{number}")
    assert page.locator(".opinions .opinion").inner_text() == OPINION
    page.get_by_role("button", name="签收").click()
    page.get_by_label("办理结果（办结反馈）").fill("已会同城管部门现场处理。")
    page.get_by_role("button", name="提交办结反馈").click()
    page.get_by_text("办结反馈已提交").wait_for()
    with session_scope() as s:
        assert casework.get_case(s, number).status == "replied"
