"""Administration in a real browser: the administrator creates a department and a staff account for it,
the new user logs in and works on the department's case; a leader writes a 批示 that the department sees."""

from __future__ import annotations

import re

import casework
from hotline.db import session_scope
from tests.conftest import make_user


def log_in(page, username: str, password: str = "correct-horse") -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/")


def log_out(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name=re.compile("退出")).click()
    page.wait_for_url("**/")


def test_admin_creates_department_and_user_who_works_and_a_leader_instructs(page) -> None:  # type: ignore[no-untyped-def]
    make_user("root", ["admin"], display_name="管理员")
    make_user("boss", ["leader"], display_name="王市长")
    log_in(page, "root")
    page.get_by_role("link", name="系统管理").click()
    page.get_by_role("link", name="承办单位").click()
    page.get_by_role("link", name="新建单位").click()
    page.locator("input[name=name]").fill("市城市管理综合执法局")
    page.locator("textarea[name=remit]").fill("市容环境、油烟噪音、占道经营的执法。")
    page.locator("textarea[name=keywords]").fill("烧烤，油烟，占道经营")
    page.locator("input[name=sms_number]").fill("13900001111")
    page.get_by_role("button", name="创建单位").click()
    page.get_by_text("已保存单位“市城市管理综合执法局”").wait_for()

    page.get_by_role("link", name="用户账号").click()
    page.get_by_role("link", name="新建账号").click()
    page.locator("input[name=username]").fill("cg1")
    page.locator("input[name=password]").fill("Temp-pass-2026")
    page.locator("input[name=display_name]").fill("城管小张")
    page.get_by_label("承办部门（department）").check()
    page.locator("select[name=department]").select_option(label="市城市管理综合执法局")
    page.get_by_role("button", name="创建账号").click()
    page.get_by_text("已创建账号“cg1”").wait_for()
    page.get_by_role("link", name="用户账号").click()
    page.get_by_role("row", name=re.compile("cg1")).get_by_text("城管小张").wait_for()
    log_out(page)

    with session_scope() as db:
        case, _ = casework.create_case(
            db, channel="phone", caller_number="13812345678", content="小区楼下烧烤油烟噪音扰民。"
        )
        casework.refer(db, case, casework.department_by_name(db, "市城市管理综合执法局"), actor="agent1")
        number = case.case_number

    log_in(page, "boss")
    page.goto(f"/supervisor/cases/{number}")
    page.get_by_label("领导批示").fill("请本周内解决并回复市民。")
    page.get_by_role("button", name="列入督办并批示").click()
    page.get_by_text("批示已送达承办部门").wait_for()
    log_out(page)

    log_in(page, "cg1", "Temp-pass-2026")
    page.get_by_role("link", name="部门办理").click()
    page.get_by_text("待确认的督办批示").wait_for()
    page.get_by_role("link", name=number).first.click()
    page.get_by_role("button", name="签收").click()
    page.get_by_text("已签收").first.wait_for()
    page.get_by_label("落实意见").fill("已安排专人处理")
    page.get_by_role("button", name="确认批示").click()
    page.get_by_text("已确认领导批示").wait_for()
    assert page.get_by_text("boss 批示于").count() >= 1
