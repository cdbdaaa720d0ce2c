"""The agents' 回访 pages (both databases): from the 待回访 queue to the list with the reply and the 回访
form, a result saved from the list, 不满意 sending the case back to the department, the SMS survey
button, and the rework counted on the supervisor dashboard."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import casework
from hotline.db import reset_caches, session_scope
from tests.casework.helpers import department, new_case, outbox
from tests.conftest import login, make_user


def _reviewed(caller: str, content: str) -> str:
    with session_scope() as s:
        case, _ = new_case(s, caller_number=caller, content=content)
        casework.refer(s, case, department(s), actor="agent1")
        casework.accept(s, case, actor="dep1")
        casework.reply(s, case, actor="dep1", reply=f"已处理：{content}")
        casework.review(s, case, actor="agent1", approved=True)
        return case.case_number


def _post(client: TestClient, url: str, token: str, **data: str) -> str:
    resp = client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    return resp.headers["location"]


def test_follow_up_list_records_results_and_sends_rework_back(
    client: TestClient, hotline_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_FOLLOWUP_SURVEY", "manual")
    reset_caches()
    happy = _reviewed("13811110001", "小区路灯不亮，晚上很黑。")
    unhappy = _reviewed("13811110002", "楼下餐馆油烟扰民。")
    landline = _reviewed("02155556666", "公交站台顶棚破损。")
    make_user("agent1", ["agent"])
    make_user("boss", ["supervisor"])
    assert client.get("/agent/followups", follow_redirects=False).status_code in (303, 401, 403)
    token = login(client, "agent1")

    queue = client.get("/agent/queues?view=follow_up").text
    assert 'href="/agent/followups"' in queue
    page = client.get("/agent/followups").text
    assert re.search(r'id="followup-total">3<', page)
    assert "已处理：楼下餐馆油烟扰民。" in page and "13811110002" in page  # the reply, the full number
    assert f'action="/agent/cases/{happy}/survey"' in page
    assert f'action="/agent/cases/{landline}/survey"' not in page and "无手机号，请电话回访" in page

    assert _post(client, f"/agent/cases/{happy}/survey", token, back="list") == "/agent/followups"
    page = client.get("/agent/followups").text
    assert "已向市民发送工单" in page and "已发送，待回复" in page
    with session_scope() as s:
        assert [m.to for m in outbox(s, kind="survey")] == ["13811110001"]

    done = _post(client, f"/agent/cases/{happy}/follow-up", token, satisfaction="基本满意", back="list")
    assert done == "/agent/followups"
    _post(client, f"/agent/cases/{unhappy}/follow-up", token, satisfaction="不满意", comment="油烟依旧", back="list")
    page = client.get("/agent/followups").text
    assert "工单已退回承办部门重办" in page and re.search(r'id="followup-total">1<', page)
    with session_scope() as s:
        assert casework.get_case(s, happy).status == "followed_up"
        case = casework.get_case(s, unhappy)
        assert case.status == "in_progress" and case.satisfaction == "不满意"
        assert "油烟依旧" in outbox(s, kind="rework")[0].body

    # from the case page: the form and the button, back to the case
    case_page = client.get(f"/agent/cases/{landline}").text
    assert f'action="/agent/cases/{landline}/follow-up"' in case_page and "发送短信回访" not in case_page
    assert _post(client, f"/agent/cases/{landline}/survey", token) == f"/agent/cases/{landline}"
    assert "没有手机号码" in client.get(f"/agent/cases/{landline}").text

    client.post("/logout", data={"csrf_token": token})
    login(client, "boss")
    dashboard = client.get("/supervisor").text
    assert re.search(r'id="kpi-rework">1<', dashboard)
    assert "市住房和城乡建设局" in dashboard.split('id="rework-by-department"')[1]


def test_department_staff_cannot_record_a_follow_up(client: TestClient, hotline_env: Path) -> None:
    number = _reviewed("13811110003", "路面塌陷需要修复。")
    make_user("dep1", ["department"], department="市住房和城乡建设局")
    token = login(client, "dep1")
    assert client.get("/agent/followups").status_code == 403
    resp = client.post(
        f"/agent/cases/{number}/follow-up", data={"csrf_token": token, "satisfaction": "不满意"},
        follow_redirects=False,
    )
    assert resp.status_code == 403
    with session_scope() as s:
        assert casework.get_case(s, number).status == "reviewed"
