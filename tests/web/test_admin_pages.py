"""Administration pages: an administrator creates a department and a user who logs in and works;
disabling ends a user's sessions; a reset forces a new password; deadlines, service hours and holidays
are set in one place; everything is audited and refused to non-admins."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import casework
from casework import calendar
from hotline.db import session_scope
from hotline.models import AuditEntry, User
from tests.conftest import login, make_user

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN_PAGES = ("/admin/users", "/admin/users/new", "/admin/departments", "/admin/calendar", "/admin/audit")


def admin(client: TestClient) -> str:
    make_user("root", ["admin"])
    return login(client, "root")


def audited(action: str) -> list[AuditEntry]:
    with session_scope() as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def account(username: str) -> User:
    with session_scope() as db:
        user = db.scalars(select(User).where(User.username == username)).one()
        db.expunge(user)
        return user


def new_user(client: TestClient, token: str, **fields: object) -> object:
    data = {"csrf_token": token, "password": "Temp-pass-2026", "roles": ["agent"]} | fields
    return client.post("/admin/users", data=data, follow_redirects=False)


def test_admin_creates_a_department_and_a_user_who_logs_in_and_works(client: TestClient) -> None:
    t = admin(client)
    assert "系统管理" in client.get("/admin/users").text  # the navigation link
    created = client.post(
        "/admin/departments",
        data={
            "csrf_token": t,
            "name": "市城市管理综合执法局",
            "remit": "市容环境、油烟噪音、占道经营的执法。",
            "keywords": "烧烤，油烟、占道经营\n噪音",
            "sms_number": "139 0000 1111",
            "fax": "010-66001234",
            "contacts": "王科长 13900002222",
            "active": "1",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    page = client.get(created.headers["location"])
    assert "市城市管理综合执法局" in page.text and "王科长" in page.text
    with session_scope() as db:
        dept = casework.department_by_name(db, "市城市管理综合执法局")
        assert dept.keywords == ["烧烤", "油烟", "占道经营", "噪音"] and dept.sms_number == "13900001111"
        assert casework.suggest_department(db, "楼下烧烤油烟太大")[0].department.name == dept.name
    made = new_user(
        client,
        t,
        username="cg1",
        display_name="张三",
        roles=["department"],
        department=dept.name,
        phone="13900003333",
    )
    assert made.status_code == 303
    assert "张三" in client.get("/admin/users?q=cg").text
    assert [e.actor for e in audited("department_created")] == ["root"]
    assert [e.actor for e in audited("user_created") if e.detail["username"] == "cg1"] == ["root"]
    # the new account works for its department
    with session_scope() as db:
        case, _ = casework.create_case(
            db, channel="phone", caller_number="13812345678", content="小区楼下烧烤油烟噪音扰民。"
        )
        casework.refer(db, case, casework.department_by_name(db, dept.name), actor="agent1")
        number = case.case_number
    t = login(client, "cg1", "Temp-pass-2026")
    assert number in client.get("/department").text
    accepted = client.post(f"/department/cases/{number}/accept", data={"csrf_token": t})
    assert accepted.status_code == 200 and "已签收" in accepted.text
    assert client.get("/admin/users").status_code == 403


@pytest.mark.parametrize(
    "roles", [["agent"], ["supervisor"], ["leader"], ["department"], ["editor", "reviewer"]]
)
def test_non_admins_get_403_and_no_link(sqlite_client: TestClient, roles: list[str]) -> None:
    make_user("someone", roles, department="市住房公积金管理中心" if "department" in roles else None)
    t = login(sqlite_client, "someone")
    for path in ADMIN_PAGES:
        assert sqlite_client.get(path).status_code == 403, path
    refused = new_user(sqlite_client, t, username="sneaky", roles=["admin"])
    assert refused.status_code == 403
    assert sqlite_client.post("/admin/calendar/hours", data={"csrf_token": t}).status_code == 403
    assert 'href="/admin"' not in sqlite_client.get("/").text
    with session_scope() as db:
        assert db.scalar(select(User).where(User.username == "sneaky")) is None


def test_anonymous_visitors_are_sent_to_the_login_and_forms_need_the_csrf_token(
    sqlite_client: TestClient,
) -> None:
    for path in ADMIN_PAGES:
        response = sqlite_client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
    admin(sqlite_client)
    assert new_user(sqlite_client, "wrong-token", username="x1").status_code == 403


def test_disabling_a_user_ends_their_session_at_once(client: TestClient) -> None:
    from web.app import create_app

    t = admin(client)
    make_user("ag1", ["agent"])
    with TestClient(create_app()) as agent:
        login(agent, "ag1")
        assert agent.get("/agent").status_code == 200
        user_id = account("ag1").id
        done = client.post(f"/admin/users/{user_id}/active", data={"csrf_token": t, "active": "0"})
        assert "账号已停用" in done.text
        ended = agent.get("/agent", follow_redirects=False)
        assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
        token = agent.get("/api/session").json()["csrf_token"]
        refused = agent.post(
            "/login", data={"username": "ag1", "password": "correct-horse", "csrf_token": token}
        )
        assert refused.status_code == 401
        client.post(f"/admin/users/{user_id}/active", data={"csrf_token": t, "active": "1"})
        login(agent, "ag1")
        assert agent.get("/agent").status_code == 200
    assert {e.action for e in audited("user_disabled") + audited("user_enabled")} == {
        "user_disabled",
        "user_enabled",
    }
    # nobody locks themselves out
    me = account("root").id
    refused = client.post(f"/admin/users/{me}/active", data={"csrf_token": t, "active": "0"})
    assert "不能停用自己的账号" in refused.text and account("root").active
    kept = client.post(
        f"/admin/users/{me}", data={"csrf_token": t, "roles": ["agent"], "display_name": "root"}
    )
    assert kept.status_code == 422 and "不能取消自己的系统管理员角色" in kept.text


def test_a_password_reset_forces_a_new_password_at_the_next_login(sqlite_client: TestClient) -> None:
    from web.app import create_app

    t = admin(sqlite_client)
    make_user("ag2", ["agent"])
    user_id = account("ag2").id
    with TestClient(create_app()) as agent:
        login(agent, "ag2")
        reset = sqlite_client.post(
            f"/admin/users/{user_id}/password", data={"csrf_token": t, "password": "Reset-by-admin-1"}
        )
        assert "密码已重置" in reset.text
        assert agent.get("/agent", follow_redirects=False).headers["location"].startswith("/login")
        token = login(agent, "ag2", "Reset-by-admin-1")
        forced = agent.get("/agent", follow_redirects=False)
        assert forced.status_code == 303 and forced.headers["location"] == "/password"
        assert "管理员已重置您的密码" in agent.get("/password").text
        assert agent.get("/api/session").status_code == 200
        form = {
            "csrf_token": token,
            "current": "Reset-by-admin-1",
            "new": "My-own-pass-99",
            "confirm": "My-own-pass-9",
        }
        assert "两次输入的新密码不一致" in agent.post("/password", data=form).text
        wrong = agent.post("/password", data=form | {"current": "nope-nope", "confirm": "My-own-pass-99"})
        assert wrong.status_code == 422 and "当前密码不正确" in wrong.text
        short = agent.post("/password", data=form | {"new": "short", "confirm": "short"})
        assert short.status_code == 422 and "至少需要8个字符" in short.text
        done = agent.post("/password", data=form | {"confirm": "My-own-pass-99"}, follow_redirects=False)
        assert done.status_code == 303
        assert agent.get("/agent").status_code == 200  # this session goes on with the new password
    assert not account("ag2").must_change_password
    assert [e.actor for e in audited("password_reset")] == ["root"]


def test_user_form_refuses_bad_input_with_clear_messages(client: TestClient) -> None:
    t = admin(client)
    cases = [
        ({"username": "   "}, "用户名不能为空"),
        ({"username": "a b"}, "不能包含空格"),
        ({"username": "x2", "department": "不存在的局"}, "承办部门“不存在的局”不存在"),
        ({"username": "x3", "roles": []}, "请至少选择一个角色"),
        ({"username": "x4", "roles": ["wizard"]}, "未知角色"),
        ({"username": "x5", "password": "short"}, "密码至少需要8个字符"),
        ({"username": "x6", "phone": "12ab"}, "手机号码应为5至20位数字"),
        ({"username": "root"}, "已存在"),
    ]
    for fields, message in cases:
        response = new_user(client, t, **fields)
        assert response.status_code == 422 and message in response.text, (fields, response.text[-500:])
    with session_scope() as db:
        assert db.scalar(select(User).where(User.username.in_(["x2", "x3", "x4", "x5", "x6"]))) is None
    assert client.get("/admin/users/99999999999999999999").status_code in (404, 422)
    assert client.get("/admin/users/123456").status_code == 404


def test_editing_a_user_changes_roles_department_and_phone(sqlite_client: TestClient) -> None:
    t = admin(sqlite_client)
    make_user("ag3", ["agent"])
    user_id = account("ag3").id
    changed = sqlite_client.post(
        f"/admin/users/{user_id}",
        data={
            "csrf_token": t,
            "roles": ["department", "agent"],
            "display_name": "李四",
            "department": "市住房公积金管理中心",
            "phone": "13900004444",
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    user = account("ag3")
    assert user.role_set == {"agent", "department"} and user.department == "市住房公积金管理中心"
    assert user.phone == "13900004444" and user.display_name == "李四"
    [entry] = audited("user_changed")
    assert entry.detail["roles"] == ["agent", "agent,department"]


def test_department_rename_parent_and_refusals(sqlite_client: TestClient) -> None:
    t = admin(sqlite_client)
    with session_scope() as db:
        gjj = casework.department_by_name(db, "市住房公积金管理中心")
        rsj = casework.department_by_name(db, "市人力资源和社会保障局")
        gjj_id, rsj_id = gjj.id, rsj.id
    make_user("gjj1", ["department"], department="市住房公积金管理中心")
    base = {"csrf_token": t, "name": "市住房公积金管理中心", "active": "1", "parent_id": str(rsj_id)}
    assert (
        sqlite_client.post(f"/admin/departments/{gjj_id}", data=base, follow_redirects=False).status_code
        == 303
    )
    cycle = sqlite_client.post(
        f"/admin/departments/{rsj_id}",
        data=base | {"name": "市人力资源和社会保障局", "parent_id": str(gjj_id)},
    )
    assert cycle.status_code == 422 and "上级单位不能是本单位或其下级单位" in cycle.text
    taken = sqlite_client.post("/admin/departments", data=base | {"parent_id": ""})
    assert taken.status_code == 422 and "已存在" in taken.text
    bad = sqlite_client.post("/admin/departments", data=base | {"name": "新单位", "sms_number": "短信"})
    assert bad.status_code == 422 and "短信号码应为5至20位数字" in bad.text
    renamed = sqlite_client.post(
        f"/admin/departments/{gjj_id}",
        data=base | {"name": "市公积金中心", "active": ""},
        follow_redirects=False,
    )
    assert renamed.status_code == 303
    assert account("gjj1").department == "市公积金中心"  # staff follow their renamed unit
    with session_scope() as db:
        assert not casework.department_by_name(db, "市公积金中心").active
    assert "市公积金中心" in sqlite_client.get("/admin/departments?q=公积金").text


def test_deadlines_hours_and_holidays_in_one_place(client: TestClient) -> None:
    t = admin(client)
    page = client.get("/admin/calendar")
    assert page.status_code == 200 and "国庆节" in page.text  # the seeded 2026 calendar
    categories = list(calendar.DEFAULT_PERIODS["normal"])
    normal = ["7" if c == "咨询" else str(calendar.DEFAULT_PERIODS["normal"][c]) for c in categories]
    urgent = [str(calendar.DEFAULT_PERIODS["urgent"][c]) for c in categories]
    saved = client.post(
        "/admin/calendar/deadlines", data={"csrf_token": t, "normal": normal, "urgent": urgent, "sign": "2"}
    )
    assert "办理时限已保存" in saved.text
    with session_scope() as db:
        case, _ = casework.create_case(
            db, channel="web", caller_number="13812345678", content="咨询社保转移。"
        )
        created = calendar.local_date(case.created_at)
        assert calendar.local_date(case.deadline) == calendar.WorkCalendar.load(db).add_workdays(created, 7)
    refused = client.post(
        "/admin/calendar/deadlines",
        data={"csrf_token": t, "normal": ["0", *normal[1:]], "urgent": urgent, "sign": "x"},
    )
    assert "办理时限应为 1 至 60 个工作日的整数" in refused.text
    # service hours: the IVR's agents-on-duty check follows at once
    hours = client.post(
        "/admin/calendar/hours",
        data={"csrf_token": t, "open": "09:00", "close": "17:30", "weekdays": ["1", "2", "3", "4", "5"]},
    )
    assert "人工服务时间已保存" in hours.text
    assert casework.agents_on_duty(datetime(2026, 11, 26, 17, 0, tzinfo=SHANGHAI))
    assert not casework.agents_on_duty(datetime(2026, 11, 26, 17, 30, tzinfo=SHANGHAI))
    assert not casework.agents_on_duty(datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI))  # Saturday
    bad = client.post(
        "/admin/calendar/hours", data={"csrf_token": t, "open": "18:00", "close": "09:00", "weekdays": ["1"]}
    )
    assert "开始时间应早于结束时间" in bad.text
    assert (
        "时间格式应为 HH:MM"
        in client.post("/admin/calendar/hours", data={"csrf_token": t, "open": "9点"}).text
    )
    # a holiday and a make-up working day, for the deadlines and the IVR alike
    client.post("/admin/calendar/holidays", data={"csrf_token": t, "day": "2026-11-26", "name": "测试假日"})
    client.post(
        "/admin/calendar/holidays",
        data={"csrf_token": t, "day": "2026-11-28", "kind": "workday", "name": "调休"},
    )
    assert not casework.agents_on_duty(datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI))
    assert casework.agents_on_duty(datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI))
    with session_scope() as db:
        cal = calendar.WorkCalendar.load(db)
        assert not cal.is_workday(date(2026, 11, 26)) and cal.is_workday(date(2026, 11, 28))
    listed = client.get("/admin/calendar").text
    assert re.search(r"2026-11-26（周四）.*节假日.*测试假日", listed, re.S)
    client.post("/admin/calendar/holidays/2026-11-26/delete", data={"csrf_token": t})
    assert casework.agents_on_duty(datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI))
    assert (
        "日期格式应为 YYYY-MM-DD"
        in client.post("/admin/calendar/holidays", data={"csrf_token": t, "day": "明天"}).text
    )
    assert {e.entity_id for e in audited("setting_changed")} == {"case_deadlines", "service_hours"}
    assert {e.action for e in audited("holiday_set") + audited("holiday_removed")} == {
        "holiday_set",
        "holiday_removed",
    }
    audit_page = client.get("/admin/audit?entity=setting")
    assert "service_hours" in audit_page.text and "holiday" not in audit_page.text.split("<tbody>")[1]


def test_confirming_the_current_password_is_rate_limited_like_a_login(sqlite_client: TestClient) -> None:
    make_user("ag4", ["agent"])
    t = login(sqlite_client, "ag4")
    form = {"csrf_token": t, "current": "guess-0000", "new": "Another-pass-77", "confirm": "Another-pass-77"}
    for attempt in range(5):
        wrong = sqlite_client.post("/password", data=form | {"current": f"guess-{attempt:04d}"})
        assert wrong.status_code == 422 and "当前密码不正确" in wrong.text
    limited = sqlite_client.post("/password", data=form | {"current": "correct-horse"})
    assert limited.status_code == 422 and "尝试次数过多" in limited.text
    assert not audited("password_confirmed") and not audited("sessions_ended")


def test_categories_are_added_with_their_deadlines_and_offered_on_the_forms(client: TestClient) -> None:
    t = admin(client)
    added = client.post(
        "/admin/calendar/categories", data={"csrf_token": t, "name": "意见", "normal": "8", "urgent": "3"}
    )
    assert "已新增诉求类别“意见”" in added.text
    refused = [
        ({"name": "咨询", "normal": "2", "urgent": "1"}, "已存在"),
        ({"name": "太长的类别名称九个", "normal": "2", "urgent": "1"}, "类别名称应为1至8个字"),
        ({"name": "新类", "normal": "0", "urgent": "1"}, "办理时限应为 1 至 60 个工作日的整数"),
    ]
    for fields, message in refused:
        assert message in client.post("/admin/calendar/categories", data={"csrf_token": t} | fields).text
    with session_scope() as db:
        assert calendar.categories(db)[-1] == "意见"
        case, _ = casework.create_case(
            db,
            channel="web",
            caller_number="13812345678",
            category="意见",
            content="建议延长图书馆开放时间。",
        )
        assert calendar.local_date(case.deadline) == calendar.WorkCalendar.load(db).add_workdays(
            calendar.local_date(case.created_at), 8
        )
    assert '<option value="意见"' in client.get("/submit").text  # the citizen's form offers it
    national = client.post("/admin/calendar/categories/delete", data={"csrf_token": t, "name": "投诉"})
    assert "不能删除" in national.text
    client.post("/admin/calendar/categories/delete", data={"csrf_token": t, "name": "意见"})
    with session_scope() as db:
        assert "意见" not in calendar.categories(db)
        assert casework.get_case(db, case.case_number).category == "意见"  # its cases keep it
    assert '<option value="意见"' not in client.get("/submit").text


def test_a_refused_holiday_removal_comes_back_to_the_calendar(sqlite_client: TestClient) -> None:
    t = admin(sqlite_client)
    refused = sqlite_client.post("/admin/calendar/holidays/2026-11-24/delete", data={"csrf_token": t})
    assert (
        refused.status_code == 200
        and "该日期不在节假日表中" in refused.text
        and "节假日与调休工作日" in refused.text
    )
