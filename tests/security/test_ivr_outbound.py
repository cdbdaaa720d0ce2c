"""The IVR's keys 7 (SMS) and 8 (fax) under the outbound rules: browser voice sends nothing and says
so, a phone caller gets SMS on the calling number only, within the per-call caps, and faxes go to
domestic numbers only (real dialog engine, simulated caller)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

import casework
from hotline.db import session_scope
from hotline.models import AuditEntry
from selfservice.engine import Dialog
from selfservice.menu import load_menu
from selfservice.simulator import SimulatedChannel, parse_script
from tests.selfservice.conftest import DATA, SPEECH, ivr_env, prompt_cache  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("ivr_env")

OPEN_FIRST_DOCUMENT = "press 1\npress 1\n"
MESSAGE = SPEECH / "wenet_BAC009S0724W0121.wav"  # a real recording (a voicemail)


def call(script: str, *, caller: str = "", browser: bool = False) -> list[str]:
    channel = SimulatedChannel(parse_script(script, DATA), caller)
    dialog = Dialog(channel, load_menu())
    if browser:  # what web/routes/voice.py does
        channel.name = "browser"
        channel.client_key = "web:203.0.113.9"
        origin = casework.Origin.call(
            channel="browser", call_id=dialog.call_id, client_key=channel.client_key
        )
        with casework.acting_as(origin):
            asyncio.run(dialog.run())
    else:
        asyncio.run(dialog.run())
    return [line[5:] for line in channel.log.lines if line.startswith("IVR: ")]


def outbox() -> list[casework.OutboxMessage]:
    with session_scope() as s:
        return list(s.scalars(select(casework.OutboxMessage)))


def test_browser_voice_sends_no_sms_and_no_fax_and_says_so() -> None:
    prompts = call(OPEN_FIRST_DOCUMENT + "press 7\npress 8\nhangup", browser=True)
    assert any(p.startswith("为保护信息安全，网上语音咨询不能发送短信") for p in prompts)
    assert any(p.startswith("为保护信息安全，网上语音咨询不能发送传真") for p in prompts)
    assert not any("请输入" in p and "号码" in p for p in prompts)  # never asked for a number
    assert outbox() == []


def test_a_phone_caller_gets_two_sms_a_call() -> None:
    prompts = call(OPEN_FIRST_DOCUMENT + "press 7\npress 7\npress 7\nhangup", caller="13800138000")
    assert prompts.count("已将本文通过短信发送到您的手机，请注意查收。") == 2
    assert "短信发送次数已达上限，请稍后再试或联系人工服务。" in prompts
    assert [m.to for m in outbox()] == ["13800138000"] * 2


def test_one_fax_a_call_and_only_to_domestic_numbers() -> None:
    script = OPEN_FIRST_DOCUMENT + "press 8\npress 0085212345678#\npress 8\npress 02087654321#\n"
    script += "press 8\npress 02087654322#\nhangup"
    prompts = call(script, caller="13800138000")
    assert "传真只能发送到国内号码。" in prompts
    assert prompts.count("传真已安排发送，请注意查收。") == 1
    assert "传真发送次数已达上限，请稍后再试或联系人工服务。" in prompts
    assert [m.to for m in outbox()] == ["02087654321"]


def test_a_browser_voicemail_with_a_typed_number_gets_its_case_but_no_sms() -> None:
    """The registration SMS (case number and password) would go to a number nobody verified."""
    prompts = call(f"press 4\npress 13912345678#\nsay {MESSAGE}\npress #\nhangup", browser=True)
    assert any(p.startswith("您的留言已记录") for p in prompts)  # the case number and password are said
    with session_scope() as s:
        [case] = s.scalars(select(casework.Case)).all()
        refusals = s.scalars(select(AuditEntry).where(AuditEntry.action == "outbound_refused")).all()
    assert case.caller_number == "13912345678" and outbox() == []
    assert [(r.entity, r.comment, r.actor) for r in refusals] == [("sms", "no_number", "web:203.0.113.9")]
