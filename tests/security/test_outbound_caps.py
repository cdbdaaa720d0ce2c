"""Outbound SMS and fax: anonymous channels send only to a verified number; caps per call, per source
and per destination a day, staff caps; domestic fax numbers only; refusals audited; caps that hold
when many requests arrive at once (both databases)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import casework
from hotline.audit import history
from hotline.config import get_settings
from hotline.db import session_scope
from hotline.models import AuditEntry

CALLER = "13800138000"
VICTIM = "13900001111"


def sip_call(call_id: str = "call-1", caller: str = CALLER) -> casework.Origin:
    return casework.Origin.call(channel="sip", call_id=call_id, caller_number=caller)


def browser_call(call_id: str = "web-1", address: str = "203.0.113.9") -> casework.Origin:
    return casework.Origin.call(channel="browser", call_id=call_id, client_key=f"web:{address}")


def sms(origin: casework.Origin, to: str = CALLER, kind: str = "document") -> casework.OutboxMessage:
    with session_scope() as s:
        return casework.queue_sms(s, to=to, text="【12345】政策原文", kind=kind, origin=origin)


def fax(origin: casework.Origin, to: str = "02087654321") -> casework.OutboxMessage:
    with session_scope() as s:
        return casework.queue_fax(s, to=to, title="标题", body="内容", origin=origin)


def refused(send, *args, **kw) -> casework.OutboundRefused:  # noqa: ANN001
    """The refusal; like the IVR, the session is committed (the refusal's audit entry with it)."""
    with session_scope() as s:
        try:
            send(s, *args, **kw)
        except casework.OutboundRefused as exc:
            return exc
    raise AssertionError("not refused")


def queue_sms(s, origin, to=CALLER):  # noqa: ANN001, ANN201
    return casework.queue_sms(s, to=to, text="短信", kind="document", origin=origin)


def queue_fax(s, origin, to="02087654321"):  # noqa: ANN001, ANN201
    return casework.queue_fax(s, to=to, title="标题", body="内容", origin=origin)


def outbox_count(channel: str) -> int:
    with session_scope() as s:
        return s.scalar(
            select(func.count(casework.OutboxMessage.id)).where(casework.OutboxMessage.channel == channel)
        )


def refusals() -> list[AuditEntry]:
    with session_scope() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "outbound_refused")))


def test_a_browser_call_sends_nothing_and_the_refusal_is_audited(hotline_env: Path) -> None:
    for send in (queue_sms, queue_fax):
        exc = refused(send, browser_call(), to=VICTIM)
        assert exc.reason == "no_number" and "网上语音咨询不能发送" in str(exc)
    assert outbox_count("sms") == outbox_count("fax") == 0


def test_a_phone_caller_gets_sms_on_the_calling_number_only(hotline_env: Path) -> None:
    assert sms(sip_call()).to == CALLER
    exc = refused(queue_sms, sip_call(), to=VICTIM)
    assert exc.reason == "unverified" and "来电" in str(exc)
    landline = refused(queue_sms, sip_call(caller="02088886666"), to="02088886666")
    assert landline.reason == "unverified"
    [entry, other] = refusals()
    assert entry.entity == "sms" and entry.comment == "unverified" and entry.actor == f"number:{CALLER}"
    assert entry.entity_id == "139****1111"  # the number masked in the audit trail
    assert other.comment == "unverified"


def test_per_call_cap(hotline_env: Path) -> None:
    per_call = get_settings().sms_per_call
    for _ in range(per_call):
        sms(sip_call("call-a"))
    assert refused(queue_sms, sip_call("call-a")).reason == "call_cap"
    assert sms(sip_call("call-b")).to == CALLER  # the next call may send again
    assert outbox_count("sms") == per_call + 1


def test_per_destination_cap_counts_every_channel(hotline_env: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HOTLINE_SMS_PER_DESTINATION_PER_DAY", "3")
    get_settings.cache_clear()
    sms(sip_call("c1"))
    sms(sip_call("c2"))
    sms(casework.Origin.staff("agent1"), kind="kb_answer")  # an agent's SMS to the same number counts
    exc = refused(queue_sms, sip_call("c3"))
    assert exc.reason == "destination_cap" and "今天接收的短信已达上限" in str(exc)
    assert refused(queue_sms, casework.Origin.staff("agent2")).reason == "destination_cap"
    assert outbox_count("sms") == 3


def test_per_source_cap_across_calls(hotline_env: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HOTLINE_FAX_PER_SOURCE_PER_DAY", "2")
    get_settings.cache_clear()
    fax(sip_call("c1"), to="02000000001")
    fax(sip_call("c2"), to="02000000002")
    exc = refused(queue_fax, sip_call("c3"), to="02000000003")
    assert exc.reason == "source_cap" and "传真发送次数已达上限" in str(exc)
    assert fax(sip_call("c4", caller="13700000000"), to="02000000003").to == "02000000003"


def test_fax_only_to_domestic_numbers_unless_configured(hotline_env: Path, monkeypatch) -> None:  # noqa: ANN001
    for number in ("0085212345678", "+85212345678", "+1 212 555 0100"):
        assert refused(queue_fax, casework.Origin.staff("agent1"), to=number).reason == "international"
    assert fax(sip_call("c1"), to="+86 20 8765 4321").to == "+86 20 8765 4321"  # +86 is domestic
    monkeypatch.setenv("HOTLINE_FAX_INTERNATIONAL", "true")
    get_settings.cache_clear()
    assert fax(casework.Origin.staff("agent1"), to="0085212345678").to == "0085212345678"


def test_staff_daily_cap(hotline_env: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HOTLINE_SMS_PER_STAFF_PER_DAY", "2")
    get_settings.cache_clear()
    agent = casework.Origin.staff("agent1")
    sms(agent, to="13900000001", kind="kb_answer")
    sms(agent, to="13900000002", kind="kb_answer")
    assert refused(queue_sms, agent, to="13900000003").reason == "source_cap"
    assert sms(casework.Origin.staff("agent2"), to="13900000003", kind="kb_answer")


def test_a_capped_registration_sms_does_not_stop_the_case(hotline_env: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HOTLINE_SMS_PER_DESTINATION_PER_DAY", "1")
    get_settings.cache_clear()
    with session_scope() as s:
        for _ in range(2):
            casework.create_case(s, channel="phone", caller_number=VICTIM, content="路灯不亮", actor="ivr")
    with session_scope() as s:
        assert s.scalar(select(func.count(casework.Case.id))) == 2
    assert outbox_count("sms") == 1  # the second registration SMS was refused (audited)
    [entry] = refusals()
    assert entry.comment == "destination_cap" and entry.actor == "system"


def test_department_notices_have_no_destination_cap(hotline_env: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HOTLINE_SMS_PER_DESTINATION_PER_DAY", "1")
    get_settings.cache_clear()
    for _ in range(3):
        sms(casework.outbox.SYSTEM, to="13500000000", kind="urge")
    assert outbox_count("sms") == 3


def test_the_current_origin_applies_when_none_is_passed(hotline_env: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HOTLINE_SMS_PER_STAFF_PER_DAY", "1")
    get_settings.cache_clear()
    with casework.acting_as(casework.Origin.staff("agent1")):
        with session_scope() as s:
            casework.queue_sms(s, to="13900000001", text="短信", kind="kb_answer")
        with session_scope() as s, pytest.raises(casework.OutboundRefused):
            casework.queue_sms(s, to="13900000002", text="短信", kind="kb_answer")


@pytest.mark.parametrize("channel", ["sms", "fax"])
def test_caps_hold_under_concurrency(hotline_env: Path, monkeypatch, channel: str) -> None:  # noqa: ANN001
    """20 requests at once, from 20 calls, to one number: exactly the daily cap is queued."""
    cap = 3
    monkeypatch.setenv(f"HOTLINE_{channel.upper()}_PER_DESTINATION_PER_DAY", str(cap))
    get_settings.cache_clear()
    get_settings()
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        origin = sip_call(f"call-{n}", caller=f"137{n:08d}")
        barrier.wait()
        try:
            with session_scope() as s:
                if channel == "sms":
                    casework.queue_sms(
                        s, to=VICTIM, text="短信", kind="kb_answer", origin=casework.Origin.staff(f"a{n}")
                    )
                else:
                    casework.queue_fax(s, to="02087654321", title="t", body="b", origin=origin)
            outcomes.append("sent")
        except casework.OutboundRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * (20 - cap) + ["sent"] * cap
    assert outbox_count(channel) == cap


def test_refusals_are_in_the_entity_history(hotline_env: Path) -> None:
    refused(queue_fax, browser_call(), to="02087654321")
    with session_scope() as s:
        [entry] = history(s, "fax", "020****4321")
    assert entry.comment == "no_number" and entry.detail["channel"] == "browser"


def test_an_agents_sms_counts_against_the_agents_daily_cap(client: TestClient, monkeypatch) -> None:  # noqa: ANN001
    """The web app makes the logged-in account the origin: the agent route need not pass it."""
    from tests.web.test_agent_console import agent_client, publish_answer

    monkeypatch.setenv("HOTLINE_SMS_PER_STAFF_PER_DAY", "1")
    get_settings.cache_clear()
    token = agent_client(client)
    doc_id = publish_answer()
    sent = client.post("/agent/sms", data={"doc_id": doc_id, "to": "13812345678", "csrf_token": token})
    assert "已加入短信发送队列" in sent.text
    refused = client.post("/agent/sms", data={"doc_id": doc_id, "to": "13812345679", "csrf_token": token})
    assert refused.status_code == 429 and "短信发送次数已达上限" in refused.text
    assert outbox_count("sms") == 1
