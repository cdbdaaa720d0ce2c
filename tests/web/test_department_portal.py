"""Department portal: only the unit's own cases; accept, reply, return, extension; caller privacy."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import casework
from hotline.db import session_scope
from hotline.models import AuditEntry, User
from hotline.users import UserError
from tests.conftest import login, make_user


def two_departments() -> tuple[str, str]:
    with session_scope() as db:
        depts = db.scalars(select(casework.Department).order_by(casework.Department.id)).all()
        return depts[0].name, depts[1].name


def referred_case(dept_name: str, *, number: str = "13812345678", confidential: bool = False) -> str:
    with session_scope() as db:
        case, _ = casework.create_case(
            db,
            channel="phone",
            caller_number=number,
            name="李四",
            content="幸福小区南门夜间施工噪音很大，影响休息。",
            confidential=confidential,
        )
        dept = db.scalars(select(casework.Department).where(casework.Department.name == dept_name)).one()
        casework.refer(db, case, dept, actor="agent1", note="")
        return case.case_number


def staff(client: TestClient, dept_name: str, username: str = "dep1") -> str:
    make_user(username, ["department"], department=dept_name)
    return login(client, username)


def test_portal_lists_only_own_cases_and_hides_others(client: TestClient) -> None:
    mine, other = two_departments()
    own = referred_case(mine)
    foreign = referred_case(other, number="13900000000")
    staff(client, mine)
    page = client.get("/department")
    assert page.status_code == 200 and own in page.text and foreign not in page.text
    assert client.get(f"/department/cases/{foreign}").status_code == 404
    t = client.get("/api/session").json()["csrf_token"]
    assert client.post(f"/department/cases/{foreign}/accept", data={"csrf_token": t}).status_code == 404


def test_accept_then_reply(client: TestClient) -> None:
    mine, _ = two_departments()
    number = referred_case(mine)
    t = staff(client, mine)
    accepted = client.post(f"/department/cases/{number}/accept", data={"csrf_token": t})
    assert accepted.status_code == 200 and "已签收" in accepted.text
    replied = client.post(
        f"/department/cases/{number}/reply", data={"reply": "已责令施工单位停止夜间施工。", "csrf_token": t}
    )
    assert "办结反馈已提交" in replied.text
    with session_scope() as db:
        assert casework.get_case(db, number).status == "replied"


def test_reply_before_accept_is_refused(sqlite_client: TestClient) -> None:
    mine, _ = two_departments()
    number = referred_case(mine)
    t = staff(sqlite_client, mine)
    resp = sqlite_client.post(
        f"/department/cases/{number}/reply", data={"reply": "已处理。", "csrf_token": t}
    )
    assert 'class="flash error"' in resp.text


def test_return_with_reason_and_extension(sqlite_client: TestClient) -> None:
    mine, _ = two_departments()
    returned = referred_case(mine)
    extended = referred_case(mine, number="13700000001")
    t = staff(sqlite_client, mine)
    no_reason = sqlite_client.post(
        f"/department/cases/{returned}/return", data={"reason": "", "csrf_token": t}
    )
    assert 'class="flash error"' in no_reason.text
    ok = sqlite_client.post(
        f"/department/cases/{returned}/return", data={"reason": "不属于本部门职责", "csrf_token": t}
    )
    assert "已退回热线中心" in ok.text
    assert returned not in sqlite_client.get("/department").text
    sqlite_client.post(f"/department/cases/{extended}/accept", data={"csrf_token": t})
    bad = sqlite_client.post(
        f"/department/cases/{extended}/extension",
        data={"days": "abc", "reason": "需现场勘查", "csrf_token": t},
    )
    assert "延期天数应为1至30的整数" in bad.text
    good = sqlite_client.post(
        f"/department/cases/{extended}/extension", data={"days": "5", "reason": "需现场勘查", "csrf_token": t}
    )
    assert "延期申请已提交" in good.text


def test_phone_shown_to_the_handling_department_and_confidential_caller_hidden(sqlite_client: TestClient) -> None:
    mine, _ = two_departments()
    open_case = referred_case(mine)
    secret = referred_case(mine, number="13911112222", confidential=True)
    staff(sqlite_client, mine)
    page = sqlite_client.get(f"/department/cases/{open_case}")
    assert "13812345678" in page.text  # the department contacts the citizen first (先联系后办理)
    hidden = sqlite_client.get(f"/department/cases/{secret}")
    assert "诉求人要求保密" in hidden.text
    assert "1391111" not in hidden.text and "2222" not in hidden.text and "李四" not in hidden.text


def test_department_role_and_unit_required(sqlite_client: TestClient) -> None:
    with pytest.raises(UserError, match="须选择所属部门"):
        make_user("nodept", ["department"])  # refused when the account is made or edited
    make_user("nodept", ["department"], department=two_departments()[0])
    with session_scope() as db:  # an account from before that rule
        db.scalars(select(User).where(User.username == "nodept")).one().department = None
    login(sqlite_client, "nodept")
    resp = sqlite_client.get("/department")
    assert resp.status_code == 403 and "未关联承办部门" in resp.text
    make_user("ag", ["agent"])
    login(sqlite_client, "ag")
    assert sqlite_client.get("/department").status_code == 403


def test_start_work_urges_received_and_bad_values(sqlite_client: TestClient) -> None:
    mine, other = two_departments()
    number = referred_case(mine)
    foreign = referred_case(other, number="13900000000")
    with session_scope() as db:
        casework.urge(db, casework.get_case(db, number), actor="sup", message="请于今日内反馈<办理>进度")
    t = staff(sqlite_client, mine)
    portal = sqlite_client.get("/department").text
    assert "催办通知" in portal and "请于今日内反馈&lt;办理&gt;进度" in portal
    sqlite_client.post(f"/department/cases/{number}/accept", data={"csrf_token": t})
    started = sqlite_client.post(f"/department/cases/{number}/start", data={"csrf_token": t})
    assert started.status_code == 200
    with session_scope() as db:
        assert casework.get_case(db, number).status == "in_progress"
    bad = sqlite_client.post(
        f"/department/cases/{number}/extension", data={"days": "很多", "reason": "x", "csrf_token": t}
    )
    assert bad.status_code == 200 and "延期天数应为1至30的整数" in bad.text
    reply = {"reply": "已处理。", "csrf_token": t}
    assert sqlite_client.post(f"/department/cases/{foreign}/reply", data=reply).status_code == 404
    assert sqlite_client.post(f"/department/cases/{number}/start", data={}).status_code == 403
    with session_scope() as db:
        assert casework.get_case(db, foreign).status == "referred"
        assert casework.get_case(db, number).status == "in_progress"
        trail = db.scalars(
            select(AuditEntry.action).where(AuditEntry.actor == "dep1", AuditEntry.entity_id == number)
        )
        assert {"case.accepted", "case.started"} <= set(trail)
