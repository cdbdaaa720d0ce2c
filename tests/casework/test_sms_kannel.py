"""SMS through a real Kannel gateway (bearerbox + smsbox, fakesmsc as the SMS centre): Chinese text
arrives as UCS-2, delivery is at-least-once and never duplicated, a gateway outage loses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

import casework
from casework.models import OutboxMessage
from hotline.cli import app
from hotline.db import new_session, reset_caches, session_scope, utcnow
from tests.casework.helpers import new_case, outbox
from tests.casework.kannel_gateway import KannelGateway, kannel_missing_reason
from tests.conftest import free_port

pytestmark = pytest.mark.e2e

TEXT = "【12345】您反映的问题已受理，工单编号2026112500015，查询密码请妥善保管。"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KannelGateway]:
    if not KannelGateway.available():
        pytest.fail(kannel_missing_reason())
    gw = KannelGateway(tmp_path_factory.mktemp("kannel")).start()
    yield gw
    gw.stop()


@pytest.fixture
def sms_env(hotline_env: Path, gateway: KannelGateway, monkeypatch: pytest.MonkeyPatch) -> Path:
    """hotline configured to send SMS through the test gateway."""
    monkeypatch.setenv("HOTLINE_KANNEL_URL", gateway.sendsms_url)
    monkeypatch.setenv("HOTLINE_KANNEL_USER", gateway.user)
    monkeypatch.setenv("HOTLINE_KANNEL_PASSWORD", gateway.password)
    reset_caches()
    return hotline_env


def sent_to(gateway: KannelGateway, number: str, expect: int) -> list[str]:
    return [m.text for m in gateway.wait_for(expect) if m.receiver == number]


def test_chinese_sms_reaches_the_sms_centre_once(sms_env: Path, gateway: KannelGateway) -> None:
    number = "1380013" + str(free_port() % 10000).zfill(4)  # a number of its own in the shared log
    before = len(gateway.received())
    with session_scope() as s:
        message_id = casework.queue_sms(s, to=number, text=TEXT, kind="registered").message_id
    counts = casework.deliver_outbox(new_session, casework.default_transports())
    assert counts["sent"] == 1
    assert sent_to(gateway, number, before + 1) == [TEXT]
    with session_scope() as s:
        (msg,) = outbox(s, message_id=message_id)
        assert msg.status == "sent" and msg.sent_at is not None and msg.attempts == 1

    # the process died after Kannel took the message but before it was marked sent: after the lease
    # it is claimed again, and the transport's ledger drops the repeat
    with session_scope() as s:
        s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.message_id == message_id)
            .values(status="sending", next_attempt_at=utcnow() - timedelta(minutes=10))
        )
    counts = casework.deliver_outbox(new_session, casework.default_transports())
    assert counts["sent"] == 1
    assert sent_to(gateway, number, before + 1) == [TEXT]


def test_case_registration_sms_through_the_cli(sms_env: Path, gateway: KannelGateway) -> None:
    caller = "1390013" + str(free_port() % 10000).zfill(4)
    before = len(gateway.received())
    with session_scope() as s:
        case, password = new_case(s, caller_number=caller)
        number = case.case_number
        # a case notice waits a minute for others to join it (casework.outbox.collapse_into): it has waited
        s.execute(update(OutboxMessage).where(OutboxMessage.ref == number).values(next_attempt_at=utcnow()))
    result = CliRunner().invoke(app, ["case", "deliver"])
    assert result.exit_code == 0, result.output
    assert "sent=1" in result.output
    (text,) = sent_to(gateway, caller, before + 1)
    assert number in text and password in text


def test_gateway_down_keeps_the_message_queued_with_back_off(
    hotline_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_KANNEL_URL", f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms")
    monkeypatch.setenv("HOTLINE_KANNEL_USER", "hotline-sms")
    monkeypatch.setenv("HOTLINE_KANNEL_PASSWORD", "a-long-sms-secret")
    reset_caches()
    with session_scope() as s:
        message_id = casework.queue_sms(s, to="13800138000", text=TEXT, kind="registered").message_id
    now = utcnow()
    counts = casework.deliver_outbox(new_session, casework.default_transports(), now=now)
    assert counts == {"sent": 0, "retry": 1, "failed": 0, "skipped": 0}
    with session_scope() as s:
        (msg,) = outbox(s, message_id=message_id)
        assert msg.status == "queued" and msg.attempts == 1
        assert "unreachable" in msg.last_error
        assert msg.next_attempt_at.replace(tzinfo=None) > now.replace(tzinfo=None)
    # not due yet: a second round leaves it alone
    assert casework.deliver_outbox(new_session, casework.default_transports(), now=now)["retry"] == 0


def test_delivery_reports_need_the_token_and_mark_delivery(
    hotline_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_KANNEL_DLR_TOKEN", "dlr-token-123")
    reset_caches()
    from web.app import create_app

    with session_scope() as s:
        message_id = casework.queue_sms(s, to="13800138000", text=TEXT, kind="registered").message_id
    with TestClient(create_app()) as client:
        forged = client.get("/api/sms/dlr", params={"id": message_id, "type": 1, "token": "guess"})
        assert forged.status_code == 403
        unknown = client.get("/api/sms/dlr", params={"id": "nope", "type": 1, "token": "dlr-token-123"})
        assert unknown.status_code == 404
        ok = client.get("/api/sms/dlr", params={"id": message_id, "type": 1, "token": "dlr-token-123"})
        assert ok.status_code == 200 and ok.json() == {"recorded": True}
    with session_scope() as s:
        (msg,) = outbox(s, message_id=message_id)
        assert msg.delivered_at is not None
