"""The e-mail intake's mailbox on /admin/mailbox, against the real Exim + Dovecot of the e-mail tests
(tests/casework/mailserver.py): an administrator sets the servers, the account and the password (stored
sealed, never shown back, audited without it), tests the connection and reads the servers' answers in
Chinese; the stored settings override the environment's for the poll and the replies (both databases)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from casework import mailsettings
from hotline.db import reset_caches, session_scope
from hotline.models import AuditEntry, SiteSetting
from tests.casework.mailserver import MailServer, mail_server_missing_reason
from tests.casework.test_mail_intake import citizen, deliver, local_name, mail, poll
from tests.conftest import free_port, login, make_user

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[MailServer]:
    if not MailServer.available():
        pytest.fail(mail_server_missing_reason())
    srv = MailServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def admin(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, str]:
    """An administrator's client on an installation whose environment enables no mailbox."""
    for key in ("MAIL_ENABLED", "IMAP_HOST", "IMAP_USER", "IMAP_PASSWORD", "SMTP_HOST", "MAIL_FROM"):
        monkeypatch.delenv(f"HOTLINE_{key}", raising=False)
    monkeypatch.setenv("HOTLINE_MAIL_POLL_SECONDS", "0")
    reset_caches()
    make_user("root", ["admin"])
    return client, login(client, "root")


def form(server: MailServer, mailbox: str, **changes: str) -> dict[str, str]:
    values = {
        "mail_enabled": "1", "imap_host": "127.0.0.1", "imap_port": str(server.imap_port), "imap_tls": "none",
        "imap_user": mailbox, "imap_password": server.password, "imap_folder": "INBOX",
        "smtp_host": "127.0.0.1", "smtp_port": str(server.smtp_port), "smtp_tls": "none", "smtp_user": "",
        "smtp_password": "", "mail_from": server.address(mailbox), "mail_poll_seconds": "30",
    }  # fmt: skip
    return values | changes


def audited(action: str) -> list[AuditEntry]:
    with session_scope() as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_the_administrator_sets_the_mailbox_and_the_password_is_never_shown(
    admin: tuple[TestClient, str], server: MailServer
) -> None:
    client, token = admin
    page = client.get("/admin/mailbox")
    assert page.status_code == 200 and "受理邮箱" in page.text and "当前使用环境变量中的默认设置" in page.text
    mailbox = f"hotline{time.monotonic_ns()}"
    saved = client.post(
        "/admin/mailbox", data=form(server, mailbox) | {"csrf_token": token}, follow_redirects=False
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/mailbox"

    page = client.get("/admin/mailbox").text
    assert "邮箱设置已保存" in page and "当前使用本页保存的设置" in page
    assert f'value="{mailbox}"' in page and f'value="{server.imap_port}"' in page
    assert server.password not in page and "已设置，留空则不修改" in page
    with session_scope() as db:
        row = db.get(SiteSetting, mailsettings.KEY)
        assert row is not None and server.password not in str(row.value)  # sealed
        settings = mailsettings.effective(session=db)
        assert (
            settings.mail_enabled
            and settings.imap_user == mailbox
            and settings.imap_password == server.password
        )
    (change,) = audited("setting_changed")
    assert change.actor == "root" and change.entity_id == "mailbox"
    assert (
        server.password not in str(change.detail) and change.detail["new"]["imap_password_sealed"] == "已设置"
    )

    # a blank password keeps the stored one; "clear" removes it
    client.post("/admin/mailbox", data=form(server, mailbox, imap_password="") | {"csrf_token": token})
    with session_scope() as db:
        assert mailsettings.effective(session=db).imap_password == server.password
    assert audited("setting_changed")[-1].detail["new"]["imap_password_sealed"] == "未更改"
    client.post(
        "/admin/mailbox",
        data=form(server, mailbox, imap_password="", clear_imap_password="1") | {"csrf_token": token},
    )
    with session_scope() as db:
        assert mailsettings.effective(session=db).imap_password == ""
    assert audited("setting_changed")[-1].detail["new"]["imap_password_sealed"] == "已清除"


def test_bad_values_are_refused_with_the_field_named_and_nothing_saved(
    admin: tuple[TestClient, str], server: MailServer
) -> None:
    client, token = admin
    for changes, message in (
        ({"imap_port": "99999"}, "收信服务器端口应为 1 至 65535 之间的整数"),
        ({"imap_host": "mail server;rm"}, "收信服务器（IMAP）地址应为域名或 IP 地址"),
        ({"imap_tls": "maybe"}, "请选择收信服务器的加密方式"),
        ({"mail_poll_seconds": "1"}, "收信间隔（秒）应为 10 至 3600 之间的整数"),
        ({"mail_from": "not-an-address"}, "发信地址应为电子邮件地址"),
        ({"imap_user": ""}, "启用邮件受理前，请填写收信服务器地址和收信账号"),
    ):
        resp = client.post("/admin/mailbox", data=form(server, "someone", **changes) | {"csrf_token": token})
        assert resp.status_code == 400 and message in resp.text, changes
        assert server.password not in resp.text
    with session_scope() as db:
        assert db.get(SiteSetting, mailsettings.KEY) is None
    assert audited("setting_changed") == []
    # without the CSRF token nothing happens
    assert client.post("/admin/mailbox", data=form(server, "someone")).status_code == 403


def test_testing_the_connection_reports_the_servers_answers_in_chinese(
    admin: tuple[TestClient, str], server: MailServer
) -> None:
    client, token = admin
    mailbox = f"hotline{time.monotonic_ns()}"
    server.send(mail(citizen(server), server.address(mailbox), "路灯不亮", "幸福路路灯坏了。"))
    server.wait_for(local_name(server.address(mailbox)), 1)

    good = client.post("/admin/mailbox/test", data=form(server, mailbox) | {"csrf_token": token})
    assert good.status_code == 200, good.text
    assert "连接测试结果" in good.text and "Dovecot (Debian) ready." in good.text  # the greeting, as sent
    assert "登录成功" in good.text and "共有 1 封邮件，其中未读 1 封" in good.text
    assert "ESMTP Exim" in good.text and "未设置发信账号" in good.text
    assert good.text.count("正常") >= 2 and server.password not in good.text
    with session_scope() as db:
        assert db.get(SiteSetting, mailsettings.KEY) is None  # a test saves nothing
    ((_, flags),) = server.messages(mailbox)
    assert "\\Seen" not in flags  # and reads no mail

    wrong = client.post(
        "/admin/mailbox/test", data=form(server, mailbox, imap_password="wrong") | {"csrf_token": token}
    ).text
    assert "登录失败（账号" in wrong and "AUTHENTICATIONFAILED" in wrong and "失败" in wrong

    closed = free_port()
    refused = client.post(
        "/admin/mailbox/test",
        data=form(server, mailbox, imap_port=str(closed), smtp_port=str(closed)) | {"csrf_token": token},
    ).text
    assert f"连接被拒绝：127.0.0.1 的 {closed} 端口没有邮件服务在监听" in refused

    tests = audited(mailsettings.TESTED)
    assert [t.comment for t in tests] == [
        "收信服务器（IMAP）正常；发信服务器（SMTP）正常",
        "收信服务器（IMAP）失败；发信服务器（SMTP）正常",
        "收信服务器（IMAP）失败；发信服务器（SMTP）失败",
    ]
    assert all(t.actor == "root" and server.password not in str(t.detail) for t in tests)


def test_the_stored_mailbox_is_polled_and_answers_by_its_smtp(
    admin: tuple[TestClient, str], server: MailServer, hotline_env: Path
) -> None:
    client, token = admin
    mailbox = f"hotline{time.monotonic_ns()}"
    client.post("/admin/mailbox", data=form(server, mailbox) | {"csrf_token": token})
    sender = citizen(server)
    server.send(mail(sender, server.address(mailbox), "噪音扰民", "工地夜间施工。"))
    server.wait_for(mailbox, 1)

    assert "mail_submission=1" in poll()  # the environment enables no mailbox: the page's settings do
    assert deliver()["sent"] == 1
    ((reply, _),) = server.wait_for(local_name(sender), 1)
    assert "来信已收到" in str(reply["Subject"]) and str(reply["From"]).endswith(
        f"<{server.address(mailbox)}>"
    )


@pytest.mark.parametrize("roles", [["agent"], ["supervisor"], ["editor"]])
def test_only_administrators_see_the_mailbox(sqlite_client: TestClient, roles: list[str]) -> None:
    make_user("someone", roles)
    token = login(sqlite_client, "someone")
    assert sqlite_client.get("/admin/mailbox").status_code == 403
    assert sqlite_client.post("/admin/mailbox/test", data={"csrf_token": token}).status_code == 403
