"""Agent console: permissions, caller panel, registering, dispatching and answering cases, review queue."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

import casework
import kb
from hotline.db import session_scope, utcnow
from hotline.models import AuditEntry
from selfservice import records
from tests.conftest import login, make_user

CONTENT = "幸福小区南门夜间施工噪音很大，影响休息，请有关部门处理。"


def agent_client(client: TestClient) -> str:
    make_user("agent1", ["agent"], display_name="坐席小李")
    return login(client, "agent1")


def new_case(number: str = "13812345678", content: str = CONTENT, **kw: object):  # type: ignore[no-untyped-def]
    with session_scope() as db:
        case, _ = casework.create_case(db, channel="phone", caller_number=number, content=content, **kw)
        return case.case_number


def some_department() -> tuple[int, str]:
    with session_scope() as db:
        dept = db.scalars(select(casework.Department).order_by(casework.Department.id)).first()
        return dept.id, dept.name


def test_console_requires_agent_role(sqlite_client: TestClient) -> None:
    resp = sqlite_client.get("/agent", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login?next=%2Fagent")
    make_user("dep", ["department"], department="市城市管理局")
    login(sqlite_client, "dep")
    assert sqlite_client.get("/agent").status_code == 403
    assert sqlite_client.get("/agent/review").status_code == 403


def test_caller_panel_shows_history_and_repeat_flag(client: TestClient) -> None:
    agent_client(client)
    first = new_case()
    fragment = client.get("/agent/caller", params={"number": "13812345678"})
    assert fragment.status_code == 200
    assert "重复来电" in fragment.text and first in fragment.text
    assert "13812345678" in fragment.text  # agents see their caller's full number
    assert "<html" not in fragment.text  # htmx fragment only
    unknown = client.get("/agent/caller", params={"number": "13700000000"})
    assert "此前没有工单记录" in unknown.text and "重复来电" not in unknown.text


def test_register_case_then_refer_to_confirmed_department(client: TestClient) -> None:
    t = agent_client(client)
    data = {
        "caller_number": "13812345678",
        "name": "王五",
        "category": "投诉",
        "topic": "夜间施工噪音",
        "content": CONTENT,
        "district": "芙蓉区",
        "address": "幸福小区",
        "urgency": "normal",
        "csrf_token": t,
    }
    resp = client.post("/agent/cases", data=data, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    number = resp.headers["location"].rsplit("/", 1)[1]
    page = client.get(resp.headers["location"])
    assert "工单已登记" in page.text and re.search(r'id="case-password">\d{4,6}<', page.text)
    assert "转派承办部门" in page.text and "系统建议" in page.text
    again = client.get(resp.headers["location"])
    assert "工单已登记" not in again.text  # the password is shown once
    dept_id, dept_name = some_department()
    referred = client.post(
        f"/agent/cases/{number}/refer", data={"department_id": dept_id, "note": "请核查", "csrf_token": t}
    )
    assert referred.status_code == 200 and "已转派承办部门" in referred.text
    assert dept_name in referred.text
    with session_scope() as db:
        case = casework.get_case(db, number)
        assert case.department.name == dept_name and case.created_by == "agent1"
        actions = {e.action for e in db.scalars(select(AuditEntry).where(AuditEntry.actor == "agent1"))}
        assert actions  # the referral is on the audit trail


def test_register_validation_keeps_input(sqlite_client: TestClient) -> None:
    t = agent_client(sqlite_client)
    resp = sqlite_client.post(
        "/agent/cases",
        data={"caller_number": "", "category": "咨询", "content": "<b>问</b>公积金", "csrf_token": t},
    )
    assert resp.status_code == 422
    assert "请填写联系电话" in resp.text and "&lt;b&gt;问&lt;/b&gt;公积金" in resp.text


def test_refer_twice_is_refused_with_clear_error(sqlite_client: TestClient) -> None:
    t = agent_client(sqlite_client)
    number = new_case()
    dept_id, _ = some_department()
    sqlite_client.post(f"/agent/cases/{number}/refer", data={"department_id": dept_id, "csrf_token": t})
    again = sqlite_client.post(f"/agent/cases/{number}/answer", data={"answer": "已答复", "csrf_token": t})
    assert again.status_code == 200 and 'class="flash error"' in again.text


def test_answer_directly_closes_case(sqlite_client: TestClient) -> None:
    t = agent_client(sqlite_client)
    number = new_case(content="请问公积金提取需要带哪些材料？")
    resp = sqlite_client.post(
        f"/agent/cases/{number}/answer",
        data={"answer": "携带身份证和购房合同到公积金中心办理。", "csrf_token": t},
    )
    assert "已直接答复并办结" in resp.text
    with session_scope() as db:
        assert casework.get_case(db, number).status == "closed"


def test_duplicate_warning_and_merge(sqlite_client: TestClient) -> None:
    t = agent_client(sqlite_client)
    first = new_case()
    second = new_case()
    page = sqlite_client.get(f"/agent/cases/{second}")
    assert "疑似重复工单" in page.text and first in page.text
    merged = sqlite_client.post(f"/agent/cases/{second}/merge", data={"keep": first, "csrf_token": t})
    assert merged.status_code == 200 and f"/agent/cases/{first}" in str(merged.url)
    with session_scope() as db:
        assert casework.get_case(db, second).status == "merged"


def test_review_queue_accept_and_reject(sqlite_client: TestClient) -> None:
    t = agent_client(sqlite_client)
    with session_scope() as db:
        a, _ = casework.create_case(
            db, channel="web", caller_number="13811112222", content="路灯不亮已经一周了，请维修。"
        )
        b, _ = casework.create_case(
            db, channel="web", caller_number="13811113333", content="广告广告广告广告广告"
        )
        a_no, b_no = a.case_number, b.case_number
    queue = sqlite_client.get("/agent/review")
    assert a_no in queue.text and b_no in queue.text
    assert 'id="late-submissions"' not in queue.text  # both arrived just now
    with session_scope() as db:
        casework.get_case(db, b_no).created_at = utcnow() - timedelta(minutes=5)
    assert "有 1 条留言已等待超过3分钟" in sqlite_client.get("/agent/review").text
    sqlite_client.post(f"/agent/cases/{a_no}/accept-submission", data={"csrf_token": t})
    rejected = sqlite_client.post(
        f"/agent/cases/{b_no}/reject-submission", data={"reason": "广告或恶意信息", "csrf_token": t}
    )
    assert "已作为无效诉求退回" in rejected.text
    queue = sqlite_client.get("/agent/review")
    assert a_no not in queue.text and b_no not in queue.text


def test_case_text_is_escaped(sqlite_client: TestClient) -> None:
    agent_client(sqlite_client)
    number = new_case(content="<img src=x onerror=alert(1)>小区停水")
    page = sqlite_client.get(f"/agent/cases/{number}")
    assert "&lt;img src=x onerror=alert(1)&gt;小区停水" in page.text
    assert "<img src=x" not in page.text


def test_unknown_case_is_a_chinese_404(sqlite_client: TestClient) -> None:
    agent_client(sqlite_client)
    resp = sqlite_client.get("/agent/cases/123456789")
    assert resp.status_code == 404 and "工单不存在" in resp.text


def test_actions_need_csrf(sqlite_client: TestClient) -> None:
    agent_client(sqlite_client)
    number = new_case()
    resp = sqlite_client.post(f"/agent/cases/{number}/answer", data={"answer": "x"})
    assert resp.status_code == 403


def publish_answer() -> int:
    with session_scope() as db:
        data = kb.DocumentInput(
            title="住房公积金提取办理指南",
            category="常见问题",
            body="职工购买自住住房的，可以申请提取住房公积金。",
            question="怎么提取公积金？",
            answer="携带身份证和购房合同到市住房公积金管理中心办理提取。",
        )
        doc = kb.create_document(db, data, actor="seed-editor")
        kb.submit_document(db, doc.id, actor="seed-editor")
        kb.approve_document(db, doc.id, actor="seed-reviewer")
        return doc.id


def test_kb_search_and_send_answer_by_sms(sqlite_client: TestClient) -> None:
    t = agent_client(sqlite_client)
    doc_id = publish_answer()
    fragment = sqlite_client.get("/agent/kb", params={"q": "公积金提取"})
    assert fragment.status_code == 200 and "住房公积金提取办理指南" in fragment.text
    assert "<mark>" in fragment.text and "短信发送" in fragment.text
    assert "<html" not in fragment.text
    no_number = sqlite_client.post("/agent/sms", data={"doc_id": doc_id, "to": "", "csrf_token": t})
    assert "请先在来电面板输入来电人的手机号码" in no_number.text
    sent = sqlite_client.post("/agent/sms", data={"doc_id": doc_id, "to": "13812345678", "csrf_token": t})
    assert "已加入短信发送队列" in sent.text and "138****5678" in sent.text
    with session_scope() as db:
        message = db.scalars(select(casework.OutboxMessage)).one()
        assert message.to == "13812345678" and "携带身份证和购房合同" in message.body
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "sms_kb_answer")).one()
        assert entry.actor == "agent1" and entry.entity_id == str(doc_id)


def test_kb_search_escapes_the_query(sqlite_client: TestClient) -> None:
    agent_client(sqlite_client)
    fragment = sqlite_client.get("/agent/kb", params={"q": "<script>x</script>"})
    assert fragment.status_code == 200 and "<script>x" not in fragment.text


def ivr_call(call_id: str, number: str, outcome: str) -> None:
    with session_scope() as db:
        records.start_call(db, call_id=call_id, channel="sip", caller_number=number)
        records.append(db, call_id, "path", "1")
        records.append(db, call_id, "searches", {"query": "公积金怎么提取"})
        records.append(db, call_id, "documents", {"id": 1, "title": "住房公积金提取办理指南"})
        records.finish_call(db, call_id, outcome=outcome)


def test_transferred_call_context_and_callback_list(sqlite_client: TestClient) -> None:
    agent_client(sqlite_client)
    ivr_call("call-transfer-1", "13812345678", "transferred")
    ivr_call("call-abandon-1", "13900001111", "abandoned")
    console = sqlite_client.get("/agent")
    assert "自助语音转人工来电" in console.text and "call_id=call-transfer-1" in console.text
    page = sqlite_client.get("/agent", params={"number": "13812345678", "call_id": "call-transfer-1"})
    assert (
        "自助语音记录" in page.text
        and "公积金怎么提取" in page.text
        and "住房公积金提取办理指南" in page.text
    )
    from selfservice import acd

    with session_scope() as db:  # a caller who asked for a person and hung up after 20 s in the queue
        acd.enqueue(db, call_id="call-queue-1", caller_number="13700002222", group="综合", node="n1")
        acd.finish(db, "call-queue-1").wait_seconds = 20
    callbacks = sqlite_client.get("/agent/callbacks")
    assert "13700002222" in callbacks.text and "排队 20 秒后挂机" in callbacks.text
    assert "13900001111" not in callbacks.text  # hung up in the menus: no one was asked for
    assert "call-transfer-1" not in callbacks.text
    token = sqlite_client.get("/api/session").json()["csrf_token"]
    refused = sqlite_client.post("/agent/callbacks/call-queue-1/dial", data={"csrf_token": token})
    assert "请先在话务条签入话机" in refused.text
    done = sqlite_client.post(
        "/agent/callbacks/call-queue-1/result", data={"csrf_token": token, "result": "reached"}
    )
    assert "已记录回拨结果：已联系" in done.text and "13700002222" not in done.text.split("语音留言")[0]
