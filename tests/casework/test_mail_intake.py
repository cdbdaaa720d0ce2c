"""E-mail intake against a real mail server (Exim for SMTP, Dovecot for IMAP; tests/casework/mailserver.py):
a citizen's mail becomes a submission in the agents' review queue with its attachment, the citizen gets
the case number by mail, a reply quoting the number is threaded into the case, auto-replies are never
answered, notices about the case go by mail, and `hotline serve` polls by itself."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

import casework
from casework import attachments
from casework.models import Case, CaseEvent
from hotline.cli import app
from hotline.db import new_session, reset_caches, session_scope
from tests.casework.mailserver import MailServer, mail_server_missing_reason
from tests.conftest import login, make_user

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[MailServer]:
    if not MailServer.available():
        pytest.fail(mail_server_missing_reason())
    srv = MailServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def mail_env(hotline_env: Path, server: MailServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """hotline reading a mailbox of its own on the test server and sending through its SMTP; yields
    the mailbox's address."""
    name = f"hotline{time.monotonic_ns()}"  # a fresh mailbox per test (both databases share the server)
    address = server.address(name)
    settings = {
        "MAIL_ENABLED": "1", "IMAP_HOST": "127.0.0.1", "IMAP_PORT": str(server.imap_port), "IMAP_TLS": "none",
        "IMAP_USER": name, "IMAP_PASSWORD": server.password, "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(server.smtp_port), "SMTP_TLS": "none", "MAIL_FROM": address, "MAIL_POLL_SECONDS": "0",
    }  # fmt: skip
    for key, value in settings.items():
        monkeypatch.setenv(f"HOTLINE_{key}", value)
    reset_caches()
    yield address


def citizen(server: MailServer) -> str:
    return server.address(f"citizen{time.monotonic_ns()}")


def mail(
    sender: str, to: str, subject: str, text: str = "", *, html: str = "", charset: str = "utf-8"
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"张三 <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    if html:
        msg.set_content(html, subtype="html", charset=charset)
    else:
        msg.set_content(text, charset=charset)
    return msg


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), "gray").save(out, "JPEG")
    return out.getvalue()


def poll() -> str:
    result = CliRunner().invoke(app, ["intake", "poll", "--no-fax"])
    assert result.exit_code == 0, result.output
    return result.output


def deliver() -> dict[str, int]:
    return casework.deliver_outbox(new_session, casework.default_transports())


def only_case(session: object, **where: object) -> Case:
    (case,) = session.scalars(select(Case).filter_by(**where))  # type: ignore[attr-defined]
    return case


def local_name(address: str) -> str:
    return address.split("@")[0]


def test_a_mail_becomes_a_submission_and_the_sender_gets_its_number(
    mail_env: str, server: MailServer
) -> None:
    sender = citizen(server)
    msg = mail(
        sender,
        mail_env,
        "幸福小区路灯不亮",
        "幸福小区3号楼门前的路灯坏了一个月，晚上很黑。联系电话13812345678。",
    )
    msg.add_attachment(jpeg(), maintype="image", subtype="jpeg", filename="路灯.jpg")
    server.send(msg)
    server.wait_for(local_name(mail_env), 1)

    assert "mail_submission=1" in poll()
    with session_scope() as s:
        case = only_case(s, channel="email")
        assert case.status == "pending_review" and case in casework.review_queue(s)
        assert case.contact == sender and case.caller_number == "13812345678" and case.name == "张三"
        assert case.topic == "幸福小区路灯不亮" and "路灯坏了一个月" in case.content
        (photo,) = attachments.for_case(s, case)
        assert photo.mime == "image/jpeg" and photo.name == "路灯.jpg" and photo.purpose == "submission"
        number = case.case_number
    # taken once: the mail is marked read, a second round finds nothing
    ((_, flags),) = server.messages(local_name(mail_env))
    assert "\\Seen" in flags
    assert "mail_submission=0" in poll()

    assert deliver()["sent"] == 1
    ((reply, _),) = server.wait_for(local_name(sender), 1)
    assert reply["Subject"] == f"[12345工单 {number}] 来信已收到"
    assert reply["Auto-Submitted"] == "auto-replied"
    body = reply.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert number in body and "查询密码" in body


def test_the_agent_reviews_a_mail_like_a_web_submission(
    mail_env: str, server: MailServer, client: TestClient
) -> None:
    server.send(mail(citizen(server), mail_env, "咨询公积金提取", "请问租房提取公积金需要什么材料？"))
    server.wait_for(local_name(mail_env), 1)
    poll()
    make_user("agent1", ["agent"])
    login(client, "agent1")
    page = client.get("/agent/review").text
    with session_scope() as s:
        number = only_case(s, channel="email").case_number
    assert number in page and "咨询公积金提取" in page


def test_html_mail_in_gb2312_is_read_as_text(mail_env: str, server: MailServer) -> None:
    html = "<html><head><style>p {color: red}</style></head><body><p>噪音扰民</p><p>工地夜间施工到凌晨两点</p></body></html>"
    server.send(mail(citizen(server), mail_env, "投诉噪音", html=html, charset="gb2312"))
    server.wait_for(local_name(mail_env), 1)
    poll()
    with session_scope() as s:
        case = only_case(s, channel="email")
        assert "噪音扰民\n\n工地夜间施工到凌晨两点" in case.content  # a paragraph each
        assert "color" not in case.content and "<p>" not in case.content
        assert case.category == "投诉"


def test_a_reply_quoting_the_case_number_is_threaded_into_the_case(mail_env: str, server: MailServer) -> None:
    sender = citizen(server)
    server.send(mail(sender, mail_env, "小区垃圾无人清运", "垃圾堆了一周。"))
    server.wait_for(local_name(mail_env), 1)
    poll()
    with session_scope() as s:
        number = only_case(s, channel="email").case_number

    follow_up = mail(sender, mail_env, f"Re: [12345工单 {number}] 来信已收到", "补充：垃圾点在5号楼东侧。")
    follow_up.add_attachment(jpeg(), maintype="image", subtype="jpeg", filename="垃圾.jpg")
    server.send(follow_up)
    # the same number from another address is not threaded: a new submission
    server.send(mail(citizen(server), mail_env, f"[12345工单 {number}] 我也反映", "同一个问题。"))
    server.wait_for(local_name(mail_env), 3)
    assert "mail_followup=1" in poll()
    with session_scope() as s:
        case = casework.get_case(s, number)
        assert case is not None
        events = [
            e for e in s.scalars(select(CaseEvent).filter_by(case_id=case.id)) if e.action == "mail_followup"
        ]
        assert len(events) == 1 and "垃圾点在5号楼东侧" in events[0].comment and events[0].label == "来信补充"
        assert [a.name for a in attachments.for_case(s, case)] == ["垃圾.jpg"]
        assert len(list(s.scalars(select(Case).filter_by(channel="email")))) == 2

    deliver()
    subjects = sorted(str(m["Subject"]) for m, _ in server.wait_for(local_name(sender), 2))
    assert subjects == [f"[12345工单 {number}] 来信已收到", f"[12345工单 {number}] 补充材料已收到"]


def test_auto_replies_are_taken_without_a_case_or_an_answer(mail_env: str, server: MailServer) -> None:
    sender = citizen(server)
    auto = mail(sender, mail_env, "自动回复：休假中", "我正在休假。")
    auto["Auto-Submitted"] = "auto-replied"
    server.send(auto)
    server.wait_for(local_name(mail_env), 1)
    assert "mail_ignored=1" in poll()
    with session_scope() as s:
        assert list(s.scalars(select(Case).filter_by(channel="email"))) == []
    assert deliver()["sent"] == 0
    ((_, flags),) = server.messages(local_name(mail_env))
    assert "\\Seen" in flags


def test_notices_about_a_mailed_case_go_by_mail(mail_env: str, server: MailServer) -> None:
    sender = citizen(server)
    server.send(mail(sender, mail_env, "咨询社保卡补办", "社保卡丢了怎么补办？"))
    server.wait_for(local_name(mail_env), 1)
    poll()
    with session_scope() as s:
        case = only_case(s, channel="email")
        number = case.case_number
        casework.accept_submission(s, case, actor="agent1")
        casework.answer_directly(s, case, actor="agent1", answer="请携带身份证到社保服务大厅补办。")
    sent = deliver()["sent"]
    subjects = [str(m["Subject"]) for m, _ in server.wait_for(local_name(sender), sent)]
    assert f"[12345工单 {number}] 来信已收到" in subjects
    assert f"[12345工单 {number}] 诉求已办结" in subjects


def test_the_server_polls_the_mailbox(
    mail_env: str, server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_MAIL_POLL_SECONDS", "0.5")
    reset_caches()
    from web.app import create_app

    with TestClient(create_app()):
        server.send(mail(citizen(server), mail_env, "公交站台破损", "人民路公交站台顶棚破了。"))
        deadline = time.monotonic() + 20
        found: list[Case] = []
        while not found and time.monotonic() < deadline:
            time.sleep(0.3)
            with session_scope() as s:
                found = list(s.scalars(select(Case).filter_by(channel="email")))
        assert [c.topic for c in found] == ["公交站台破损"]


def test_a_refused_attachment_is_named_in_the_case(mail_env: str, server: MailServer) -> None:
    msg = mail(citizen(server), mail_env, "举报违章搭建", "楼顶有人私搭乱建，见附件。")
    program = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
    msg.add_attachment(program, maintype="application", subtype="octet-stream", filename="照片.jpg")
    server.send(msg)
    server.wait_for(local_name(mail_env), 1)
    assert "mail_submission=1" in poll()
    with session_scope() as s:
        case = only_case(s, channel="email")
        assert attachments.for_case(s, case) == []
        assert "附件未保存" in case.content and "照片.jpg" in case.content
