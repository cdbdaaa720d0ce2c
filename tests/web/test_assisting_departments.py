"""主办 + 协办 over HTTP (both databases): the agent refers with a lead and an assisting department; the
assisting staff see the case in their 协办 view, give their opinion and cannot sign, reply, return or ask
for an extension; the lead sees the opinion and replies; the supervisor adds and removes assisting
departments; the citizen's progress page shows no opinion."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

import casework
from hotline.db import session_scope
from tests.casework.helpers import department
from tests.conftest import login, make_user

LEAD, HELPER, OTHER = "市住房和城乡建设局", "市城市管理局", "市生态环境局"
OPINION = "该烧烤店占道经营，城管已于昨晚现场劝导，可配合联合执法。"
REPLY = "已会同城管部门现场处理，烧烤店已安装油烟净化设备。"


def _new_case() -> tuple[str, str, dict[str, int]]:
    with session_scope() as s:
        case, password = casework.create_case(
            s, channel="phone", caller_number="13900002222", name="王五", category="投诉",
            content="幸福路烧烤店油烟和噪音扰民，晚上十二点还在营业。", actor="agent1",
        )  # fmt: skip
        ids = {name: department(s, name).id for name in (LEAD, HELPER, OTHER)}
        return case.case_number, password, ids


def _token(client: TestClient) -> str:
    return client.get("/api/session").json()["csrf_token"]


def test_lead_and_assisting_departments_from_referral_to_reply(client: TestClient) -> None:
    number, password, ids = _new_case()
    for name, roles, dept in (("agent1", ["agent"], None), ("city1", ["department"], HELPER),
                              ("lead1", ["department"], LEAD)):  # fmt: skip
        make_user(name, roles, **({"department": dept} if dept else {}))
    t = login(client, "agent1")
    form = client.get(f"/agent/cases/{number}")
    assert 'name="assist_ids"' in form.text and "协办单位" in form.text
    bad = client.post(
        f"/agent/cases/{number}/refer",
        data={"department_id": ids[LEAD], "assist_ids": [str(ids[LEAD])], "csrf_token": t},
    )
    assert "不能同时作为协办单位" in bad.text
    referred = client.post(
        f"/agent/cases/{number}/refer",
        data={"department_id": ids[LEAD], "assist_ids": [str(ids[HELPER])], "note": "", "csrf_token": t},
    )
    assert "已转派承办部门，并通知协办单位" in referred.text

    # the assisting department: its 协办 view, the case, an opinion, and none of the lead's actions
    t = login(client, "city1")
    queue = client.get("/department/queues?view=assist_due")
    assert number in queue.text and number not in client.get("/department/queues?view=to_sign").text
    assert number in client.get("/department").text
    page = client.get(f"/department/cases/{number}")
    assert (
        page.status_code == 200
        and "本单位为协办单位" in page.text
        and 'action="/department/cases/' in page.text
    )
    assert "13900002222" not in page.text and "139****2222" in page.text  # the lead contacts the citizen
    for action in ("reply", "accept", "return"):
        assert f'/department/cases/{number}/{action}"' not in page.text, action
    refused = client.post(
        f"/department/cases/{number}/reply", data={"reply": "协办单位的答复", "csrf_token": t}
    )
    assert refused.status_code == 403 and "协办单位" in refused.text
    for action, data in (("accept", {}), ("return", {"reason": "不是我们的"}),
                         ("extension", {"days": "3", "reason": "需要时间"})):  # fmt: skip
        assert (
            client.post(f"/department/cases/{number}/{action}", data={**data, "csrf_token": t}).status_code
            == 403
        )
    given = client.post(f"/department/cases/{number}/opinion", data={"opinion": OPINION, "csrf_token": t})
    assert "协办意见已提交" in given.text and OPINION in given.text
    assert number not in client.get("/department/queues?view=assist_due").text
    assert number in client.get("/department/queues?view=assisting").text

    # the lead sees the opinion and replies
    t = login(client, "lead1")
    page = client.get(f"/department/cases/{number}")
    assert OPINION in page.text and "13900002222" in page.text
    assert f'action="/department/cases/{number}/opinion"' not in page.text
    client.post(f"/department/cases/{number}/accept", data={"csrf_token": t})
    replied = client.post(f"/department/cases/{number}/reply", data={"reply": REPLY, "csrf_token": t})
    assert "办结反馈已提交" in replied.text
    with session_scope() as s:
        case = casework.get_case(s, number)
        assert case.status == "replied" and case.reply_text == REPLY
        casework.review(s, case, actor="agent1", approved=True)

    # the citizen: the reply, no opinion, no assisting department
    client.post("/logout", data={"csrf_token": t})
    progress = client.post(
        "/progress", data={"case_number": number, "password": password, "csrf_token": _token(client)}
    )
    assert progress.status_code == 200 and "已会同城管部门现场处理" in progress.text
    for internal in (OPINION, "协办", HELPER):
        assert internal not in progress.text, internal


def test_other_departments_see_nothing_and_supervisors_change_assisting(client: TestClient) -> None:
    number, _, ids = _new_case()
    with session_scope() as s:
        case = casework.get_case(s, number)
        casework.refer(s, case, department(s, LEAD), actor="agent1", assisting=[department(s, HELPER)])
    make_user("env1", ["department"], department=OTHER)
    t = login(client, "env1")
    assert client.get(f"/department/cases/{number}").status_code == 404
    assert (
        client.post(f"/department/cases/{number}/opinion", data={"opinion": "x", "csrf_token": t}).status_code
        == 404
    )
    make_user("sup1", ["supervisor"])
    t = login(client, "sup1")
    page = client.get(f"/supervisor/cases/{number}")
    assert "主办与协办单位" in page.text and "移除协办：市城市管理局" in page.text
    added = client.post(
        f"/supervisor/cases/{number}/assist", data={"department_id": ids[OTHER], "csrf_token": t}
    )
    assert "已增加协办单位" in added.text
    twice = client.post(
        f"/supervisor/cases/{number}/assist", data={"department_id": ids[OTHER], "csrf_token": t}
    )
    assert "已是该工单的协办单位" in twice.text
    removed = client.post(
        f"/supervisor/cases/{number}/remove-assist", data={"department_id": ids[HELPER], "csrf_token": t}
    )
    assert "已移除协办单位" in removed.text
    units = re.search(r'class="assist-units">(.*?)</dd>', removed.text).group(1)
    assert units == OTHER
    t = login(client, "env1")
    assert client.get(f"/department/cases/{number}").status_code == 200
    make_user("leader1", ["leader"])
    t = login(client, "leader1")
    assert f'action="/supervisor/cases/{number}/assist"' not in client.get(f"/supervisor/cases/{number}").text
    refused = client.post(
        f"/supervisor/cases/{number}/assist", data={"department_id": ids[HELPER], "csrf_token": t}
    )
    assert refused.status_code == 403
