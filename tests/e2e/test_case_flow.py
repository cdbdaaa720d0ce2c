"""The case life cycle in a real browser: an agent registers and refers a case, the department
replies, the citizen sees the progress with case number + password."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

import casework
from hotline.db import session_scope
from tests.conftest import make_user

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("correct-horse")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/")


def log_out(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name=re.compile("退出")).click()
    page.wait_for_url("**/")


def test_agent_registers_and_refers_department_replies_citizen_sees_progress(page) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as db:
        dept = db.scalars(select(casework.Department).order_by(casework.Department.id)).first()
        dept_name = dept.name
    make_user("agent1", ["agent"], display_name="坐席小李")
    make_user("dep1", ["department"], display_name="部门小赵", department=dept_name)

    # agent: caller panel, register, confirm routing
    log_in(page, "agent1")
    page.get_by_role("link", name="坐席工作台").click()
    page.get_by_label("来电号码", exact=True).first.fill("13812345678")
    page.get_by_role("button", name="查询来电人").click()
    page.get_by_text("此前没有工单记录").wait_for()
    form = page.locator("form[action='/agent/cases']")
    form.get_by_label("来电号码").fill("13812345678")
    form.get_by_label("诉求类别").select_option("投诉")
    form.get_by_label("标题").fill("夜间施工噪音扰民")
    form.get_by_label("诉求内容").fill("幸福小区南门工地夜间施工噪音很大，影响居民休息。")
    form.get_by_label("区县").fill("芙蓉区")
    shot(page, "agent-console")
    form.get_by_role("button", name="登记工单").click()
    page.get_by_text("工单已登记").wait_for()
    number = page.locator(".receipt-card .case-number").inner_text().strip()
    password = page.locator("#case-password").inner_text().strip()
    shot(page, "agent-case")
    page.get_by_label("承办部门").select_option(label=dept_name)
    page.get_by_role("button", name="转派", exact=True).click()
    page.get_by_text("已转派承办部门").wait_for()
    log_out(page)

    # department: accept and reply
    log_in(page, "dep1")
    page.get_by_role("link", name="部门办理").click()
    page.get_by_role("link", name=number).click()
    assert "13812345678" in page.content()  # the handling department contacts the citizen first
    page.get_by_role("button", name="签收").click()
    page.get_by_text("已签收，请在办理时限内办结反馈").wait_for()
    page.get_by_label("办理结果（办结反馈）").fill("已责令施工单位停止夜间施工，并加强巡查。")
    shot(page, "department-case")
    page.get_by_role("button", name="提交办结反馈").click()
    page.get_by_text("办结反馈已提交").wait_for()
    log_out(page)

    # citizen: progress
    page.get_by_role("link", name="办理进度").click()
    page.get_by_label("工单编号").fill(number)
    page.get_by_label("查询密码").fill(password)
    page.get_by_role("button", name="查询").click()
    page.locator(".casework-progress").wait_for()
    shot(page, "citizen-progress")
    text = page.locator(".casework-progress").inner_text()
    assert number in text and "当前状态" in text


def test_citizen_submits_and_sees_case_number_and_password(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/submit")
    page.get_by_label("联系电话").fill("1381234")
    page.get_by_label("诉求内容").fill("路灯坏了一周了，晚上很黑，请尽快维修。")
    page.get_by_role("button", name="提交留言").click()
    page.get_by_text("联系电话格式不正确").wait_for()
    assert page.get_by_label("诉求内容").input_value() == "路灯坏了一周了，晚上很黑，请尽快维修。"
    page.get_by_label("联系电话").fill("13812345678")
    page.get_by_role("button", name="提交留言").click()
    page.get_by_text("留言已提交").wait_for()
    shot(page, "citizen-submitted")
    assert re.fullmatch(r"\d+", page.locator("#case-number").inner_text())
    assert re.fullmatch(r"\d{4,6}", page.locator("#case-password").inner_text())


def test_supervisor_dashboard_and_daily_brief(page) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as db:
        case, _ = casework.create_case(
            db,
            channel="phone",
            caller_number="13812345678",
            category="投诉",
            content="幸福小区夜间施工噪音很大。",
        )
        dept = db.scalars(select(casework.Department).order_by(casework.Department.id)).first()
        casework.refer(db, case, dept, actor="agent1")
        casework.create_case(
            db, channel="phone", caller_number="13900000000", content="咨询社保卡补办需要什么材料。"
        )
    make_user("sup", ["supervisor"], display_name="督办老周")
    log_in(page, "sup")
    page.get_by_role("link", name="督查督办").click()
    assert page.locator("#kpi-today").inner_text() == "2"
    assert page.get_by_role("figure", name="近30日工单类别分布").get_by_text("投诉").is_visible()
    shot(page, "supervisor-dashboard")
    page.get_by_role("link", name="每日要情").click()
    brief = page.frame_locator("iframe.brief")
    brief.get_by_text("每日要情").first.wait_for()
    shot(page, "supervisor-brief")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载PDF").click()
    assert download.value.suggested_filename.endswith(".pdf")


def test_case_pages_fit_a_phone_screen(page) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as db:
        dept = db.scalars(select(casework.Department).order_by(casework.Department.id)).first()
        case, _ = casework.create_case(
            db, channel="phone", caller_number="13812345678", category="投诉", content="夜间施工噪音很大。"
        )
        casework.refer(db, case, dept, actor="agent1")
        number, dept_name = case.case_number, dept.name
    make_user("agent1", ["agent", "department", "supervisor"], department=dept_name)
    page.set_viewport_size({"width": 375, "height": 740})
    log_in(page, "agent1")
    for path in ("/submit", "/progress", "/agent", f"/agent/cases/{number}", "/department", "/supervisor"):
        page.goto(path)
        assert page.get_by_role("main").is_visible(), path
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow}px wider than the phone screen"
    shot(page, "supervisor-dashboard-phone")


def test_agent_finds_kb_answer_instantly_and_sends_it_by_sms(page) -> None:  # type: ignore[no-untyped-def]
    from tests.web.test_agent_console import publish_answer

    publish_answer()
    make_user("agent1", ["agent"])
    log_in(page, "agent1")
    page.goto("/agent")
    page.get_by_label("来电号码", exact=True).first.fill("13812345678")
    page.get_by_label("检索知识库").fill("公积金提取")  # no submit: htmx searches as the agent types
    hit = page.locator("#kb-results li", has_text="住房公积金提取办理指南")
    hit.get_by_role("button", name="短信发送").click()
    page.get_by_text("已加入短信发送队列：138****5678").wait_for()
    shot(page, "agent-kb-sms")
    with session_scope() as db:
        message = db.scalars(select(casework.OutboxMessage)).one()
        assert message.to == "13812345678" and "购房合同" in message.body
