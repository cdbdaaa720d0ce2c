"""The agent's phone bar over HTTP (both databases): signing in at a phone, ready / not ready, the ringing
call's screen pop, call-control requests, registering a case linked to the call, and who may hear a
recording. The media side of these is tested with real phones in tests/selfservice/test_callcentre.py."""

from __future__ import annotations

import wave
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from hotline.config import get_settings
from hotline.db import session_scope
from hotline.models import AuditEntry, User
from selfservice import acd, records
from selfservice.models import CallControl, QueuedCall
from tests.conftest import login, make_user

CALLER = "13912345678"


def post(client: TestClient, token: str, url: str, **form: str):  # type: ignore[no-untyped-def]
    return client.post(url, data=form, headers={"X-CSRF-Token": token, "HX-Request": "true"})


def ring(extension_user: str, call_id: str = "call-1") -> None:
    """A caller who went through the IVR (办事指南, then 0) now rings this agent, as the switchboard does."""
    with session_scope() as session:
        records.start_call(session, call_id=call_id, channel="sip", caller_number=CALLER)
        for step in ("main", "key:2", "agent"):
            records.append(session, call_id, "path", step)
        records.append(session, call_id, "searches", {"query": "公积金提取", "hits": []})
        call = acd.enqueue(session, call_id=call_id, caller_number=CALLER, group="综合", node="test")
        seat = acd.claim_agent(session, call, ["综合"], "综合")
        assert seat is not None


def answer(call_id: str = "call-1", recording: Path | None = None) -> None:
    with session_scope() as session:
        call = acd.get_call(session, call_id)
        assert call is not None and call.agent_id is not None
        acd.answered(session, call_id, call.agent_id, str(recording or ""))


def test_an_agent_signs_in_at_a_phone_and_sets_ready_and_not_ready(client: TestClient) -> None:
    make_user("agent1", ["agent"])
    token = login(client, "agent1")
    page = client.get("/agent")
    assert "话务条" in page.text and "签入" in page.text
    bar = post(client, token, "/agent/phone/sign-in", extension="1001")
    assert bar.status_code == 200 and "空闲" in bar.text and "分机 1001" in bar.text
    bar = post(client, token, "/agent/phone/state", state="not_ready", reason="小休")
    assert "示忙（小休）" in bar.text
    bar = post(client, token, "/agent/phone/state", state="ready")
    assert 'id="agent-state">空闲' in bar.text
    bar = post(client, token, "/agent/phone/state", state="on_call")
    assert "无效的状态" in bar.text  # states that follow the calls are not chosen by hand
    make_user("agent2", ["agent"])
    other = TestClient(client.app)
    other_token = login(other, "agent2")
    taken = post(other, other_token, "/agent/phone/sign-in", extension="1001")
    assert "分机 1001 已被其他坐席签入使用" in taken.text
    bar = post(client, token, "/agent/phone/sign-out")
    assert "签入" in bar.text
    with session_scope() as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "acd.sign_in")) is not None


def test_a_ringing_call_pops_the_callers_history_and_ivr_path_then_polls_quietly(client: TestClient) -> None:
    make_user("agent1", ["agent"])
    token = login(client, "agent1")
    post(client, token, "/agent/phone/sign-in", extension="1001")
    ring("agent1")
    bar = client.get("/agent/phone", params={"shown": ""})
    assert "来电振铃，请在话机上接听" in bar.text
    assert CALLER in bar.text
    assert "自助语音：办事指南 &gt; 人工服务" in bar.text
    assert "公积金提取" in bar.text
    assert 'hx-get="/agent/caller?number=13912345678&call_id=call-1"' in bar.text  # the screen pop
    assert 'id="f-call_id" name="call_id" type="hidden" value="call-1" hx-swap-oob="true"' in bar.text
    version = bar.text.split('data-version="', 1)[1].split('"', 1)[0]
    again = client.get("/agent/phone", params={"shown": "call-1", "version": version.replace("&amp;", "&")})
    assert again.status_code == 204  # nothing changed: htmx leaves the bar as it is
    answer()
    bar = client.get("/agent/phone", params={"shown": "call-1", "version": version})
    assert bar.status_code == 200 and "通话中" in bar.text and "三方通话" in bar.text
    assert "hx-swap-oob" not in bar.text  # the caller is on the screen already: no second pop
    bar = post(client, token, "/agent/phone/control", action="conference", target="8001", shown="call-1")
    assert "三方通话 8001：处理中" in bar.text
    with session_scope() as session:
        control = session.scalar(select(CallControl))
        assert (control.call_id, control.action, control.target) == ("call-1", "conference", "8001")


def test_a_case_registered_during_the_call_keeps_its_recording_for_the_agent_and_supervisors(
    client: TestClient,
) -> None:
    make_user("agent1", ["agent"])
    make_user("agent2", ["agent"])
    make_user("boss", ["supervisor"])
    token = login(client, "agent1")
    post(client, token, "/agent/phone/sign-in", extension="1001")
    ring("agent1")
    recording = get_settings().recordings_dir / "calls" / "20261130" / "call-1.wav"
    recording.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(recording), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0\0" * 8000)
    answer(recording=recording)
    resp = client.post(
        "/agent/cases",
        data={"csrf_token": token, "call_id": "call-1", "caller_number": CALLER, "category": "咨询",
              "content": "咨询公积金提取需要哪些材料，来电人要求短信告知。", "urgency": "normal"},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    case_number = resp.headers["location"].rsplit("/", 1)[1]
    with session_scope() as session:
        call = session.scalar(select(QueuedCall))
        assert call.case_number == case_number
        assert records.get_call(session, "call-1").case_number == case_number
    page = client.get(f"/agent/cases/{case_number}")
    assert f'src="/recordings/cases/{case_number}"' in page.text
    audio = client.get("/recordings/calls/call-1")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    assert client.get(f"/recordings/cases/{case_number}").status_code == 200
    other = TestClient(client.app)
    login(other, "agent2")
    denied = other.get("/recordings/calls/call-1")
    assert denied.status_code == 403 and "只有接听该通话的坐席和班长" in denied.text
    boss = TestClient(client.app)
    login(boss, "boss")
    assert boss.get("/recordings/calls/call-1").status_code == 200
    anonymous = TestClient(client.app).get("/recordings/calls/call-1", follow_redirects=False)
    assert anonymous.status_code in (303, 401, 403)
    with session_scope() as session:
        plays = session.scalars(select(AuditEntry).where(AuditEntry.action == "recording.play")).all()
        assert {p.actor for p in plays} == {"agent1", "boss"}
        assert session.query(User).count() == 3
