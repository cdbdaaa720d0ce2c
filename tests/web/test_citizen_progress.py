"""The citizen's progress page: the public timeline (never internal notes, staff names, urging or
supervision), the department's reply once approved, and the online satisfaction rating, accepted once as
the case's 回访 result, only from the visitor who gave the case's password. Both databases."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

import casework
from casework.models import CaseEvent
from hotline.db import session_scope
from tests.casework.helpers import department

CALLER = "13900001111"
REPLY = "已责令施工单位夜间停工，如有反弹请联系13977778888。"


def token(client: TestClient) -> str:
    return client.get("/api/session").json()["csrf_token"]


def replied_case(*, approved: bool = True) -> tuple[str, str]:
    with session_scope() as s:
        case, password = casework.create_case(
            s, channel="phone", caller_number=CALLER, name="张三", category="投诉",
            content="幸福小区南门工地夜间施工噪音很大。", actor="agent_wang",
        )  # fmt: skip
        dept = department(s)
        casework.refer(s, case, dept, actor="agent_wang", note="内部备注：先核查施工许可")
        casework.urge(s, case, actor="sup_li", message="内部催办意见")
        casework.supervise(s, case, actor="leader_zhao", instruction="领导批示内容")
        casework.accept(s, case, actor="dep_chen")
        casework.reply(s, case, actor="dep_chen", reply=REPLY)
        if approved:
            casework.review(s, case, actor="agent_wang", approved=True, comment="审核意见内部")
        return case.case_number, password


def query(client: TestClient, number: str, password: str):  # type: ignore[no-untyped-def]
    data = {"case_number": number, "password": password, "csrf_token": token(client)}
    return client.post("/progress", data=data)


def rate(client: TestClient, number: str, satisfaction: str, comment: str = ""):  # type: ignore[no-untyped-def]
    data = {
        "case_number": number,
        "satisfaction": satisfaction,
        "comment": comment,
        "csrf_token": token(client),
    }
    return client.post("/progress/rating", data=data)


def test_the_timeline_shows_public_events_and_the_approved_reply_only(client: TestClient) -> None:
    number, password = replied_case()
    page = query(client, number, password)
    assert page.status_code == 200
    timeline = re.search(r'<ol class="timeline" id="public-timeline">(.*?)</ol>', page.text, re.S).group(1)
    steps = re.findall(r"<strong>(.*?)</strong>", timeline)
    assert steps == [
        "诉求已登记", "已转交市住房和城乡建设局办理", "市住房和城乡建设局已签收",
        "市住房和城乡建设局已反馈办理结果，热线中心正在审核", "办理结果已审核，可查看答复",
    ]  # fmt: skip
    for internal in ("内部备注", "先核查", "内部催办意见", "领导批示内容", "审核意见内部", "催办", "督办"):
        assert internal not in page.text, internal
    for name in ("agent_wang", "sup_li", "leader_zhao", "dep_chen", CALLER):
        assert name not in page.text, name
    reply = re.search(r'id="case-reply">(.*?)</div>', page.text, re.S).group(1)
    assert "已责令施工单位夜间停工" in reply and "13977778888" not in reply  # phone numbers masked
    assert 'id="rating-form"' in page.text


def test_the_reply_waits_for_the_centres_review(client: TestClient) -> None:
    number, password = replied_case(approved=False)
    page = query(client, number, password)
    assert "热线中心正在审核" in page.text
    assert 'id="case-reply"' not in page.text and "已责令" not in page.text
    assert 'id="rating-form"' not in page.text
    refused = rate(client, number, "满意")
    assert refused.status_code == 409 and "不能评价" in refused.text


def test_the_rating_is_recorded_once_as_the_follow_up(client: TestClient) -> None:
    number, password = replied_case()
    query(client, number, password)
    done = rate(client, number, "基本满意", "处理及时，但噪音偶有反复")
    assert done.status_code == 200 and "感谢您的评价" in done.text
    assert 'id="rating-form"' not in done.text and 'id="case-satisfaction">基本满意<' in done.text
    with session_scope() as s:
        case = casework.get_case(s, number)
        assert case.status == "followed_up" and case.satisfaction == "基本满意"
        event = s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "followed_up")
        ).one()
        assert event.actor == "citizen:web" and "噪音偶有反复" in event.comment
    again = rate(client, number, "不满意")
    assert again.status_code == 409 and "不能评价" in again.text
    with session_scope() as s:
        assert casework.get_case(s, number).satisfaction == "基本满意"


def test_only_the_visitor_who_gave_the_password_may_rate(client: TestClient) -> None:
    number, password = replied_case()
    stranger = rate(client, number, "不满意")
    assert stranger.status_code == 403 and "请先输入工单编号和查询密码" in stranger.text
    other_number, other_password = replied_case()
    query(client, other_number, other_password)
    assert rate(client, number, "不满意").status_code == 403  # the password given was another case's
    with session_scope() as s:
        assert casework.get_case(s, number).status == "reviewed"
    bad = rate(client, other_number, "还行")
    assert bad.status_code == 409 and "请选择满意、基本满意或不满意" in bad.text
