"""Business announcements (业务公告) from the supervisor pages: queued by SMS and fax to the numbers of the
groups chosen, refused input explained in Chinese, audited, listed with their delivery counts from the
outbox and the SMS delivery reports. Both databases."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import casework
from casework.models import OutboxMessage
from hotline.db import session_scope
from hotline.models import AuditEntry
from tests.conftest import login, make_user

TEXT = "元旦假期期间热线24小时值守，请各承办单位安排好值班人员。"


def _departments() -> tuple[int, int]:
    """Two departments with an SMS number; the first also has a fax number; the others none."""
    with session_scope() as db:
        rows = list(db.scalars(select(casework.Department).order_by(casework.Department.id)))
        for d in rows:
            d.sms_number, d.fax = None, None
        rows[0].sms_number, rows[0].fax = "13900000001", "073184440001"
        rows[1].sms_number = "13900000002"
        return rows[0].id, rows[1].id


def _sent() -> list[tuple[str, str, str]]:
    with session_scope() as db:
        rows = db.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "announcement").order_by(OutboxMessage.id)
        )
        return [(m.channel, m.to, m.body) for m in rows]


def test_an_announcement_goes_to_the_numbers_of_the_groups_chosen(client: TestClient) -> None:
    first, second = _departments()
    make_user("sup", ["supervisor"])
    make_user("duty", ["agent"], phone="13700000009")
    make_user("nophone", ["agent"])
    token = login(client, "sup")
    page = client.get("/supervisor/announcements")
    assert page.status_code == 200 and "发送业务公告" in page.text and "暂无业务公告" in page.text
    data = {
        "csrf_token": token,
        "text": TEXT,
        "channels": ["sms", "fax"],
        "groups": ["chosen", "staff", "numbers"],
        "department_ids": [str(first), str(second)],
        "numbers": "13811110000\n0731-88886666，13811110000",
    }
    resp = client.post("/supervisor/announcements", data=data, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    sent = _sent()
    assert sorted((c, to) for c, to, _ in sent) == [
        ("fax", "073184440001"), ("fax", "073188886666"),
        ("sms", "13700000009"), ("sms", "13811110000"), ("sms", "13900000001"), ("sms", "13900000002"),
    ]  # fmt: skip
    assert all(TEXT in body for _, _, body in sent)
    assert all(body.startswith("【12345热线】") for c, _, body in sent if c == "sms")
    listing = client.get("/supervisor/announcements")
    assert "公告已提交发送：6条" in listing.text
    row = re.search(r'<table class="cases" id="announcements">.*?</table>', listing.text, re.S).group(0)
    assert TEXT in row and "指定承办单位" in row and "短信、传真" in row
    with session_scope() as db:
        audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "announcement_sent")).one()
        assert audit.actor == "sup" and audit.detail["queued"] == 6


def test_all_departments_by_sms_and_delivery_reports_counted(client: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _departments()
    monkeypatch.setenv("HOTLINE_KANNEL_DLR_TOKEN", "dlr-token-1")
    from hotline.db import reset_caches

    reset_caches()
    make_user("admin1", ["admin"])
    token = login(client, "admin1")
    assert "/supervisor/announcements" in client.get("/admin/users").text  # the admin menu links to it
    data = {"csrf_token": token, "text": TEXT, "channels": ["sms"], "groups": ["departments"]}
    assert client.post("/supervisor/announcements", data=data, follow_redirects=False).status_code == 303
    assert sorted(to for _, to, _ in _sent()) == ["13900000001", "13900000002"]  # no fax: not chosen
    with session_scope() as db:
        ids = list(db.scalars(select(OutboxMessage.message_id).where(OutboxMessage.kind == "announcement")))
    ok = client.get("/api/sms/dlr", params={"id": ids[0], "type": 1, "token": "dlr-token-1"})
    failed = client.get("/api/sms/dlr", params={"id": ids[1], "type": 16, "token": "dlr-token-1"})
    assert ok.status_code == failed.status_code == 200
    row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", client.get("/supervisor/announcements").text, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    # 共计, 待发送, 已发出, 已送达, 失败, 未发送
    assert cells[-6:] == ["2", "0", "0", "1", "1", "0"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": "", "channels": ["sms"], "groups": ["departments"]}, "请填写公告内容"),
        ({"text": TEXT, "groups": ["departments"]}, "请选择发送方式"),
        ({"text": TEXT, "channels": ["sms"]}, "请选择接收对象"),
        (
            {"text": TEXT, "channels": ["sms"], "groups": ["numbers"], "numbers": "138abc, 12"},
            "号码格式不正确",
        ),
        ({"text": TEXT, "channels": ["fax"], "groups": ["staff"]}, "没有可用的短信或传真号码"),
    ],
)
def test_refused_announcements_come_back_in_chinese(sqlite_client: TestClient, data, message) -> None:  # type: ignore[no-untyped-def]
    make_user("sup", ["supervisor"])
    token = login(sqlite_client, "sup")
    resp = sqlite_client.post("/supervisor/announcements", data={**data, "csrf_token": token})
    assert resp.status_code == 422 and message in resp.text
    assert _sent() == []


def test_only_supervisors_and_administrators_send_announcements(sqlite_client: TestClient) -> None:
    for name, roles in (("boss", ["leader"]), ("ag", ["agent"]), ("dep", ["department"])):
        kw = {"department": "市住房和城乡建设局"} if roles == ["department"] else {}
        make_user(name, roles, **kw)
        token = login(sqlite_client, name)
        assert sqlite_client.get("/supervisor/announcements").status_code == 403
        data = {"csrf_token": token, "text": TEXT, "channels": ["sms"], "groups": ["departments"]}
        assert sqlite_client.post("/supervisor/announcements", data=data).status_code == 403
    make_user("sup", ["supervisor"])
    login(sqlite_client, "sup")
    data = {"text": TEXT, "channels": ["sms"], "groups": ["departments"]}
    assert sqlite_client.post("/supervisor/announcements", data=data).status_code == 403  # no CSRF token
    assert _sent() == []
