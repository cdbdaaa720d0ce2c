"""Work queues and case search per role, through the pages (both databases): counts, views, search,
filters, paging, role checks, masking and the Excel export."""

from __future__ import annotations

import io
import re
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook

import casework
from hotline.db import session_scope
from tests.casework.helpers import department, new_case
from tests.conftest import login, make_user

HOUSING, POLICE = "市住房和城乡建设局", "市公安局"


def _count(page: str, view: str) -> int:
    match = re.search(rf'data-view="{view}">(\d+)', page)
    assert match, view
    return int(match.group(1))


def _numbers(page: str) -> list[str]:
    return re.findall(r'<td><a href="/[a-z]+/cases/(\d+)">', page)


def _seed() -> dict[str, str]:
    """A web submission, a case returned by a department, one replied, one with the housing bureau and
    one with the police."""
    with session_scope() as s:
        housing, police = department(s), department(s, POLICE, sms=None)
        web, _ = new_case(s, channel="web", content="网上留言：路灯不亮，请尽快维修。", caller_number="13700000001")
        returned, _ = new_case(s, content="小区垃圾无人清运，气味很大。", actor="agent1", address="幸福路8号")
        casework.refer(s, returned, housing, actor="agent1")
        casework.return_case(s, returned, actor="dep1", reason="不属于本单位职责")
        replied, _ = new_case(s, content="楼道照明损坏需要维修。", actor="agent1")
        casework.refer(s, replied, housing, actor="agent1")
        casework.accept(s, replied, actor="dep1")
        casework.reply(s, replied, actor="dep1", reply="已修复。")
        signing, _ = new_case(s, name="李四", caller_number="13911112222", category="求助")
        casework.refer(s, signing, housing, actor="agent2")
        elsewhere, _ = new_case(s, content="夜间有人在街边燃放烟花爆竹。")
        casework.refer(s, elsewhere, police, actor="agent2")
        return {
            "web": web.case_number, "returned": returned.case_number, "replied": replied.case_number,
            "signing": signing.case_number, "police": elsewhere.case_number,
        }  # fmt: skip


def test_agent_queues_count_list_search_and_export(client: TestClient, hotline_env: Path) -> None:
    cases = _seed()
    make_user("agent1", ["agent"])
    login(client, "agent1")
    page = client.get("/agent/queues").text
    assert _count(page, "submissions") == 1 and _count(page, "returned") == 1 and _count(page, "replies") == 1
    assert _count(page, "mine") == 2 and _count(page, "callbacks") == 0
    assert _numbers(page) == [cases["web"]]
    assert 'href="/agent/queues" class="nav-queue">工单队列 <span class="badge count" title="待办">3<' in page
    assert _numbers(client.get("/agent/queues?view=returned").text) == [cases["returned"]]
    assert _numbers(client.get("/agent/queues?view=replies").text) == [cases["replied"]]
    everything = "/agent/queues?view=mine"
    assert set(_numbers(client.get(everything).text)) == {cases["returned"], cases["replied"]}
    # search: content words, a phone number, a case number, an address; all terms must match
    found = client.get("/agent/queues?view=mine&q=垃圾清运").text
    assert _numbers(found) == [cases["returned"]]
    assert _numbers(client.get("/agent/queues?view=mine&q=幸福路").text) == [cases["returned"]]
    assert _numbers(client.get(f"/agent/queues?view=mine&q={cases['replied']}").text) == [cases["replied"]]
    assert _numbers(client.get("/agent/queues?view=mine&q=垃圾 照明").text) == []
    assert _numbers(client.get("/agent/queues?view=submissions&q=13700000001").text) == [cases["web"]]
    assert "13700000001" in client.get("/agent/queues?view=submissions").text  # agents see the number
    resp = client.get("/agent/queues.xlsx?view=mine&q=照明")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/vnd.openxml")
    rows = list(load_workbook(io.BytesIO(resp.content)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("工单编号", "状态", "承办部门") and [r[0] for r in rows[1:]] == [cases["replied"]]
    assert rows[1][1] == "已反馈" and rows[1][2] == HOUSING
    assert client.get("/department/queues").status_code == 403


def test_department_sees_only_its_own_cases(client: TestClient, hotline_env: Path) -> None:
    cases = _seed()
    make_user("dep1", ["department"], department=HOUSING)
    login(client, "dep1")
    page = client.get("/department/queues").text
    assert _count(page, "to_sign") == 1 and _numbers(page) == [cases["signing"]]
    assert "139****2222" in page and "13911112222" not in page
    assert _count(page, "in_progress") == 0 and _count(page, "overdue") == 0
    assert cases["police"] not in client.get("/department/queues?view=to_sign&q=烟花爆竹").text
    assert client.get("/department/queues.xlsx").status_code == 200
    with session_scope() as s:
        case = casework.get_case(s, cases["signing"])
        casework.supervise(s, case, actor="sup", instruction="请三日内办结。")
        casework.urge(s, case, actor="sup", message="请尽快")
    page = client.get("/department/queues?view=instructions").text
    assert _count(page, "instructions") == 1 and _count(page, "urged") == 1
    assert _numbers(page) == [cases["signing"]]
    assert client.get("/supervisor/cases").status_code == 403


def test_supervisor_filters_dates_and_bad_input(client: TestClient, hotline_env: Path) -> None:
    cases = _seed()
    make_user("sup", ["supervisor"])
    login(client, "sup")
    page = client.get("/supervisor/cases").text
    assert _count(page, "all") == 5 and len(_numbers(page)) == 5
    with session_scope() as s:
        police_id = casework.department_by_name(s, POLICE).id
    assert _numbers(client.get(f"/supervisor/cases?department={police_id}").text) == [cases["police"]]
    assert _numbers(client.get("/supervisor/cases?status=returned").text) == [cases["returned"]]
    assert _numbers(client.get("/supervisor/cases?category=求助").text) == [cases["signing"]]
    assert _numbers(client.get("/supervisor/cases?channel=web").text) == [cases["web"]]
    assert _numbers(client.get("/supervisor/cases?from=2000-01-01&to=2000-01-02").text) == []
    assert _numbers(client.get("/supervisor/cases?overdue=1").text) == []
    assert _numbers(client.get("/supervisor/cases?supervised=1").text) == []
    bad = client.get("/supervisor/cases?from=昨天&department=x&status=lost&page=abc")
    assert bad.status_code == 200 and "开始日期格式不正确" in bad.text and "请选择有效的承办部门" in bad.text
    assert len(_numbers(bad.text)) == 5
    assert "13911112222" not in page and "139****2222" in page
    make_user("boss", ["leader"])
    client.post("/logout", data={"csrf_token": client.get("/api/session").json()["csrf_token"]})
    login(client, "boss")
    assert client.get("/supervisor/cases?view=open").status_code == 200


def test_search_results_are_paged_newest_first(client: TestClient, hotline_env: Path) -> None:
    with session_scope() as s:
        numbers = [new_case(s, content=f"第{i}号路灯不亮，请维修。")[0].case_number for i in range(60)]
        new_case(s, content="小区垃圾无人清运。")
    make_user("sup", ["supervisor"])
    login(client, "sup")
    first = client.get("/supervisor/cases?q=路灯").text
    assert '<strong id="case-total">60</strong>' in first and "第 1/2 页" in first
    assert _numbers(first) == numbers[::-1][:50]
    second = client.get("/supervisor/cases?q=路灯&page=2").text
    assert _numbers(second) == numbers[::-1][50:]
