"""Supervisor pages: permissions, KPI dashboard, urging, supervision with acknowledgement,
extension decisions, daily brief page and PDF."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

import casework
from hotline.db import session_scope
from hotline.models import AuditEntry
from tests.conftest import login, make_user


def referred_case(number: str = "13812345678") -> tuple[str, str]:
    with session_scope() as db:
        case, _ = casework.create_case(
            db, channel="phone", caller_number=number, category="投诉", content="幸福小区夜间施工噪音很大。"
        )
        dept = db.scalars(select(casework.Department).order_by(casework.Department.id)).first()
        casework.refer(db, case, dept, actor="agent1", note="")
        return case.case_number, dept.name


def test_supervisor_pages_need_supervisor_or_leader(sqlite_client: TestClient) -> None:
    assert sqlite_client.get("/supervisor", follow_redirects=False).status_code == 303
    make_user("ag", ["agent"])
    login(sqlite_client, "ag")
    for path in ("/supervisor", "/supervisor/overdue", "/supervisor/brief", "/supervisor/brief.pdf"):
        assert sqlite_client.get(path).status_code == 403, path
    make_user("boss", ["leader"])
    login(sqlite_client, "boss")
    assert sqlite_client.get("/supervisor").status_code == 200


def test_dashboard_shows_kpis(client: TestClient) -> None:
    referred_case()
    with session_scope() as db:
        casework.create_case(db, channel="web", caller_number="13900000000", content="建议增加公交线路。")
    make_user("sup", ["supervisor"])
    login(client, "sup")
    page = client.get("/supervisor")
    assert page.status_code == 200
    assert "按时办结率" in page.text and "满意率" in page.text and "直接答复率" in page.text
    assert 'id="kpi-today">2<' in page.text
    assert "13812345678" not in page.text


def test_urge_and_supervise_reach_the_department(sqlite_client: TestClient) -> None:
    number, dept_name = referred_case()
    make_user("sup", ["supervisor"])
    t = login(sqlite_client, "sup")
    urged = sqlite_client.post(
        f"/supervisor/cases/{number}/urge", data={"message": "请尽快办理", "csrf_token": t}
    )
    assert "催办通知已发送" in urged.text and "请尽快办理" in urged.text
    supervised = sqlite_client.post(
        f"/supervisor/cases/{number}/supervise",
        data={"instruction": "请<b>务必</b>本周内解决", "csrf_token": t},
    )
    assert "已列入督办" in supervised.text and "请&lt;b&gt;务必&lt;/b&gt;本周内解决" in supervised.text
    assert number in sqlite_client.get("/supervisor/supervised").text
    # the department acknowledges the instruction on its portal
    make_user("dep1", ["department"], department=dept_name)
    t = login(sqlite_client, "dep1")
    portal = sqlite_client.get("/department")
    assert "待确认的督办批示" in portal.text
    with session_scope() as db:
        instruction_id = casework.get_case(db, number).instructions[0].id
    ack = sqlite_client.post(
        f"/department/cases/{number}/acknowledge",
        data={"instruction_id": instruction_id, "comment": "已安排专人处理", "csrf_token": t},
    )
    assert "已确认领导批示" in ack.text
    assert "待确认的督办批示" not in sqlite_client.get("/department").text


def test_extension_decision(sqlite_client: TestClient) -> None:
    number, dept_name = referred_case()
    with session_scope() as db:
        case = casework.get_case(db, number)
        casework.accept(db, case, actor="dep1")
        casework.request_extension(db, case, actor="dep1", days=5, reason="需现场勘查")
    make_user("sup", ["supervisor"])
    t = login(sqlite_client, "sup")
    page = sqlite_client.get("/supervisor/extensions")
    assert number in page.text and "需现场勘查" in page.text
    resp = sqlite_client.post(
        f"/supervisor/cases/{number}/extension", data={"granted": "1", "comment": "同意", "csrf_token": t}
    )
    assert "延期申请已批准" in resp.text and number not in resp.text.split("延期审批（")[1]


def test_daily_brief_page_and_pdf(sqlite_client: TestClient) -> None:
    referred_case()
    make_user("sup", ["supervisor"])
    login(sqlite_client, "sup")
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    page = sqlite_client.get("/supervisor/brief", params={"date": day})
    assert page.status_code == 200 and f"/supervisor/brief.pdf?date={day}" in page.text
    html = sqlite_client.get("/supervisor/brief/view", params={"date": day})
    assert html.status_code == 200 and "每日要情" in html.text
    pdf = sqlite_client.get("/supervisor/brief.pdf", params={"date": day})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    bad = sqlite_client.get("/supervisor/brief", params={"date": "2026-13-40"})
    assert bad.status_code == 422 and "日期格式" in bad.text


def test_dashboard_call_followup_and_first_call_kpis(sqlite_client: TestClient) -> None:
    from selfservice import acd, records

    with session_scope() as db:
        for call_id, outcome in (("c1", "self_served"), ("c2", "agent"), ("c3", "abandoned")):
            records.start_call(db, call_id=call_id, channel="sip", caller_number="13812345678")
            records.finish_call(db, call_id, outcome=outcome)
        for call_id in ("c2", "c3"):  # both asked for a person: c2 was answered, c3 hung up waiting
            acd.enqueue(db, call_id=call_id, caller_number="13812345678", group="综合", node="n1")
        acd.get_call(db, "c2").answered_at = acd.get_call(db, "c2").enqueued_at
        acd.finish(db, "c2")
        acd.finish(db, "c3")
        case, _ = casework.create_case(
            db, channel="phone", caller_number="13812345678", category="咨询", content="社保卡怎么补办？"
        )
        casework.answer_directly(db, case, actor="agent1", answer="携带身份证到社保大厅补办。")
    make_user("sup", ["supervisor"])
    login(sqlite_client, "sup")
    page = sqlite_client.get("/supervisor").text
    assert 'id="kpi-connection">50.0%<' in page  # 1 of the 2 calls offered to agents was answered
    assert 'id="kpi-abandon">50.0%<' in page
    assert 'id="kpi-ivr">33.3%<' in page
    assert 'id="kpi-first-call">100.0%<' in page
    assert "回访率" in page and "平均等待" in page


def test_online_requests_answered_within_three_minutes(sqlite_client: TestClient) -> None:
    from datetime import timedelta

    from hotline.db import utcnow

    def web_case(minutes_ago: int) -> casework.Case:
        case, _ = casework.create_case(db, channel="web", caller_number="13912345678", content="路灯不亮。")
        case.created_at = utcnow() - timedelta(minutes=minutes_ago)
        return case

    with session_scope() as db:
        casework.accept_submission(db, web_case(0), actor="agent1")  # answered at once
        casework.accept_submission(db, web_case(10), actor="agent1")  # answered after 10 minutes: late
        web_case(10)  # still waiting after 10 minutes: late
        web_case(1)  # waiting for one minute: not yet due
        kpis = casework.dashboard_kpis(db)
    assert kpis["online_response_rate"] == round(1 / 3, 4)
    make_user("sup", ["supervisor"])
    login(sqlite_client, "sup")
    page = sqlite_client.get("/supervisor").text
    assert 'id="kpi-online">33.3%<' in page and "网络诉求3分钟响应率" in page


def test_leader_reads_and_writes_instructions_but_does_not_urge_or_decide(sqlite_client: TestClient) -> None:
    number, _ = referred_case()  # a leader's 批示: tests/web/test_leader_instructions.py
    make_user("boss", ["leader"])
    t = login(sqlite_client, "boss")
    page = sqlite_client.get(f"/supervisor/cases/{number}")
    assert page.status_code == 200 and "领导批示" in page.text and "/urge" not in page.text
    for action, data in (("urge", {"message": "快"}), ("extension", {"granted": "1"})):
        refused = sqlite_client.post(f"/supervisor/cases/{number}/{action}", data={**data, "csrf_token": t})
        assert refused.status_code == 403 and "权限" in refused.text
    assert sqlite_client.get("/supervisor/brief").status_code == 200
    with session_scope() as db:
        assert not db.scalars(
            select(AuditEntry).where(AuditEntry.actor == "boss", AuditEntry.entity == "case")
        ).all()


def test_overdue_list_marks_red_and_yellow(sqlite_client: TestClient) -> None:
    from datetime import timedelta

    from hotline.db import utcnow

    late, _ = referred_case()
    near, _ = referred_case("13900000000")
    fine, _ = referred_case("13700000000")
    with session_scope() as db:
        cases = {c.case_number: c for c in db.scalars(select(casework.Case))}
        cases[late].deadline = utcnow() - timedelta(hours=1)
        cases[near].deadline = utcnow() + timedelta(hours=3)
        cases[near].due_level = "yellow"
    make_user("sup", ["supervisor"])
    login(sqlite_client, "sup")
    page = sqlite_client.get("/supervisor/overdue").text
    assert late in page and near in page and fine not in page
    assert page.index(late) < page.index(near)  # earliest deadline first
    assert page.count('class="badge red">已超期') >= 2 and 'class="badge yellow">即将到期</span></td>' in page


def test_bad_brief_date_is_a_chinese_error(sqlite_client: TestClient) -> None:
    make_user("sup", ["supervisor"])
    login(sqlite_client, "sup")
    resp = sqlite_client.get("/supervisor/brief.pdf?date=2026-13-45")
    assert resp.status_code == 422 and "日期格式" in resp.text
    assert sqlite_client.get("/supervisor/cases/NOPE-1").status_code == 404
    number, _ = referred_case()
    t = login(sqlite_client, "sup")
    odd = sqlite_client.post(f"/supervisor/cases/{number}/extension", data={"granted": "9", "csrf_token": t})
    assert odd.status_code == 200 and "请选择同意或不同意" in odd.text


def test_wallboard_shows_waiting_callers_and_agents_by_state(sqlite_client: TestClient) -> None:
    from hotline.models import User
    from selfservice import acd

    make_user("agent1", ["agent"], display_name="坐席小王")
    with session_scope() as db:
        agent = db.query(User).filter_by(username="agent1").one()
        acd.sign_in(db, agent, "1001")
        acd.set_state(db, agent, "not_ready", "小休")
        acd.enqueue(db, call_id="w1", caller_number="13812345678", group="综合", node="n1")
    make_user("sup", ["supervisor"])
    login(sqlite_client, "sup")
    page = sqlite_client.get("/supervisor/wallboard").text
    assert 'id="wb-waiting">1<' in page and 'id="wb-not_ready">1<' in page
    assert "坐席小王" in page and "示忙（小休）" in page
    fragment = sqlite_client.get("/supervisor/wallboard", params={"fragment": "1"}).text
    assert fragment.lstrip().startswith('<section class="card wallboard"') and "<html" not in fragment
