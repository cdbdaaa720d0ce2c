"""Live notices for staff: who hears what (a department only its own cases), the unread count, the event
stream (/staff/events), reading, and the urgent ones by SMS to the staff member's own phone."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import casework
from hotline.db import session_scope
from hotline.models import AuditEntry, User
from tests.casework.helpers import new_case, outbox
from tests.conftest import login, make_user
from web.routes import staffevents

PHONE, OTHER_PHONE = "13700000011", "13700000022"


def departments() -> tuple[str, str]:
    with session_scope() as db:
        rows = db.scalars(select(casework.Department).order_by(casework.Department.id).limit(2)).all()
        return rows[0].name, rows[1].name


def people() -> tuple[str, str]:
    mine, other = departments()
    make_user("dep1", ["department"], department=mine, phone=PHONE)
    make_user("dep2", ["department"], department=other, phone=OTHER_PHONE)
    make_user("agent1", ["agent"])
    make_user("sup1", ["supervisor"])
    return mine, other


def referred(dept_name: str, **kw: object) -> str:
    with session_scope() as db:
        case, _ = new_case(db, **kw)
        casework.refer(db, case, casework.department_by_name(db, dept_name), actor="agent1")
        return case.case_number


def unread(client: TestClient) -> tuple[int, list[dict]]:
    data = client.get("/api/staff/notices").json()
    return data["unread"], data["notices"]


def test_a_department_hears_its_new_case_and_the_urge_and_nobody_else_does(client: TestClient) -> None:
    mine, _ = people()
    number = referred(mine)
    login(client, "dep2")
    assert unread(client) == (0, [])
    login(client, "dep1")
    count, notices = unread(client)
    assert count == 1 and notices[0]["kind"] == "new_case" and number in notices[0]["text"]
    assert 'id="staff-notices"' in client.get("/department").text

    token = login(client, "sup1")
    assert unread(client) == (0, [])
    urged = client.post(
        f"/supervisor/cases/{number}/urge", data={"message": "今天内反馈", "csrf_token": token}
    )
    assert urged.status_code == 200

    login(client, "dep1")
    count, notices = unread(client)
    assert count == 2 and [n["kind"] for n in notices] == ["urge", "new_case"]
    assert notices[0]["urgent"] and "今天内反馈" in notices[0]["text"]
    login(client, "dep2")
    assert unread(client)[0] == 0
    with session_scope() as db:  # the urge by SMS to the department's staff with a phone, not to others
        sms = outbox(db, kind="urge")
        assert [m.to for m in sms] == [PHONE] and number in sms[0].body and "今天内反馈" in sms[0].body
        assert not outbox(db, to=OTHER_PHONE)


def test_the_centre_hears_submissions_returns_and_replies_and_acting_settles_them(client: TestClient) -> None:
    mine, _ = people()
    with session_scope() as db:
        web_case, _ = new_case(db, channel="web", content="网上留言：路灯不亮。")
        submission = web_case.case_number
    login(client, "agent1")
    count, notices = unread(client)
    assert count == 1 and notices[0]["kind"] == "submission" and "网上留言" in notices[0]["text"]
    with session_scope() as db:
        casework.accept_submission(db, casework.get_case(db, submission), actor="agent1")
    assert unread(client)[0] == 0  # accepting the submission read its notice

    returned = referred(mine)
    token = login(client, "dep1")
    client.post(
        f"/department/cases/{returned}/return", data={"reason": "不属于本单位职责", "csrf_token": token}
    )
    assert unread(client)[0] == 0  # the department's new-case notice is settled by returning it
    replied = referred(mine)
    with session_scope() as db:
        case = casework.get_case(db, replied)
        casework.accept(db, case, actor="dep1")
        casework.reply(db, case, actor="dep1", reply="已修复。")

    login(client, "agent1")
    count, notices = unread(client)
    assert count == 2 and [n["kind"] for n in notices] == ["reply_review", "returned"]
    assert "不属于本单位职责" in notices[1]["text"] and mine in notices[1]["text"]
    login(client, "dep1")
    assert unread(client)[0] == 0  # the centre's notices are not the department's


def test_opening_reading_and_the_sms_setting(client: TestClient) -> None:
    mine, _ = people()
    number = referred(mine)
    token = login(client, "dep1")
    notice_id = unread(client)[1][0]["id"]
    page = client.get("/staff/notices")
    assert page.status_code == 200 and number in page.text and "137****0011" in page.text
    opened = client.get(f"/staff/notices/{notice_id}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"/department/cases/{number}"
    assert unread(client)[0] == 0

    saved = client.post("/staff/notices/settings", data={"sms": "0", "csrf_token": token})
    assert saved.status_code == 200 and "已关闭紧急提醒短信" in saved.text
    with session_scope() as db:
        assert db.scalar(select(User.notice_sms).where(User.username == "dep1")) is False
        assert db.scalar(
            select(AuditEntry).where(AuditEntry.action == "user.notice_sms", AuditEntry.actor == "dep1")
        )
        casework.urge(db, casework.get_case(db, number), actor="sup1")
    assert unread(client)[0] == 1
    with session_scope() as db:
        assert not outbox(db, to=PHONE)  # switched off: the notice only in the page
    client.post("/staff/notices/read", data={"csrf_token": token})
    assert unread(client)[0] == 0

    login(client, "dep2")  # another department's notice neither opens nor reads
    assert client.get(f"/staff/notices/{notice_id}").status_code == 404


def events(body: str) -> list[tuple[str | None, str, dict]]:
    out = []
    for block in body.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":")
        )
        if "event" in fields:
            out.append((fields.get("id"), fields["event"], json.loads(fields["data"])))
    return out


def test_the_event_stream_brings_a_new_notice_and_the_count(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staffevents, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(staffevents, "STREAM_SECONDS", 2.0)
    mine, other = people()
    number = referred(mine)
    referred(other)  # another department's case is never in this stream
    login(client, "dep1")

    def supervisor_urges() -> None:
        time.sleep(0.6)
        with session_scope() as db:
            casework.urge(db, casework.get_case(db, number), actor="sup1", message="请加快")

    urging = threading.Thread(target=supervisor_urges)
    urging.start()
    resp = client.get("/staff/events")
    urging.join()
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    got = events(resp.text)
    assert got[0] == (None, "count", {"unread": 1})  # the new case, already there: counted, not replayed
    notices = [(i, data) for i, name, data in got if name == "notice"]
    assert len(notices) == 1 and notices[0][1]["kind"] == "urge" and "请加快" in notices[0][1]["text"]
    assert notices[0][0] == str(notices[0][1]["id"]) and notices[0][1]["url"].startswith("/staff/notices/")
    assert got[-1] == (None, "count", {"unread": 2})

    # a reconnecting browser sends the last id it saw: what came after it is not lost
    first_id = unread(client)[1][1]["id"]
    again = events(client.get("/staff/events", headers={"Last-Event-ID": str(first_id)}).text)
    assert [d["kind"] for _, name, d in again if name == "notice"] == ["urge"]


def test_the_event_stream_needs_a_login(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/staff/events").status_code == 401
    assert client.get("/api/staff/notices").status_code == 401
    monkeypatch.setattr(staffevents, "STREAM_SECONDS", 0.1)
    make_user("agent1", ["agent"])
    login(client, "agent1")
    assert events(client.get("/staff/events").text) == [(None, "count", {"unread": 0})]


def test_the_event_stream_ends_when_the_account_logs_out(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staffevents, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(staffevents, "RECHECK_EVERY", 2)
    monkeypatch.setattr(staffevents, "STREAM_SECONDS", 20.0)
    make_user("agent1", ["agent"])
    login(client, "agent1")

    def logged_out_elsewhere() -> None:  # what logout, a password change or disabling do
        time.sleep(0.5)
        with session_scope() as db:
            account = db.scalars(select(User).where(User.username == "agent1")).one()
            account.session_version += 1

    ending = threading.Thread(target=logged_out_elsewhere)
    started = time.monotonic()
    ending.start()
    assert client.get("/staff/events").status_code == 200
    ending.join()
    assert time.monotonic() - started < 5
    assert client.get("/staff/events").status_code == 401  # and the browser's reconnect is refused
