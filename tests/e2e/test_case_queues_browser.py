"""The agent's work queues in headless Chromium: from the navigation's count to a view, a search, a case."""

from __future__ import annotations

import re

import casework
from hotline.db import session_scope
from tests.casework.helpers import department, new_case
from tests.conftest import make_user
from tests.e2e.test_case_flow import log_in, shot


def test_agent_finds_returned_case_through_the_queue_and_search(page) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        returned, _ = new_case(s, content="小区垃圾无人清运，气味很大。", address="幸福路8号")
        casework.refer(s, returned, department(s), actor="agent1")
        casework.return_case(s, returned, actor="dep1", reason="不属于本单位职责")
        new_case(s, channel="web", content="网上留言：路灯不亮，请尽快维修。")
        number = returned.case_number
    make_user("agent1", ["agent"], display_name="坐席小李")
    log_in(page, "agent1")
    nav = page.get_by_role("link", name=re.compile("工单队列"))
    assert nav.locator(".badge").inner_text() == "2"  # one submission to review, one returned case
    nav.click()
    page.get_by_role("link", name=re.compile("部门退回")).click()
    page.get_by_role("link", name=number).wait_for()
    page.get_by_label("搜索").fill("幸福路 垃圾")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"q="))
    assert page.locator("#case-total").inner_text() == "1"
    shot(page, "agent-queues")
    page.get_by_role("link", name=number).click()
    page.wait_for_url(f"**/agent/cases/{number}")
    assert page.get_by_role("button", name="转派", exact=True).is_visible()
