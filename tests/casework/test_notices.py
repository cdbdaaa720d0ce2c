"""Notices at every step of the life cycle (casework/lifecycle.py's notices column, casework/notices.py):
to the citizen by SMS, or by fax when the case came by fax; 督办 and 催办 to the department by fax too;
notices about the same case to the same number within a minute collapse into one message. Both databases;
the SMS that reaches the SMS centre through a real Kannel gateway."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

import casework
from casework.models import OutboxMessage
from casework.outbox import COLLAPSE_WINDOW
from hotline.config import get_settings
from hotline.db import new_session, reset_caches, session_scope, utcnow
from tests.casework.helpers import department, new_case, outbox
from tests.casework.kannel_gateway import KannelGateway, kannel_missing_reason
from tests.conftest import free_port

CITIZEN = "13812345678"
FAX = "073188886666"


def citizen_kinds(s, number: str = CITIZEN) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.kind for m in outbox(s, to=number)]


def test_the_citizen_hears_of_every_step_and_the_department_of_its_own(hotline_env: Path) -> None:
    with session_scope() as s:
        case, password = new_case(s, caller_number=CITIZEN)
        dept = department(s)
        casework.refer(s, case, dept, actor="agent1", note="请核查")
        casework.return_case(s, case, actor="dep1", reason="不属于本单位职责")
        casework.refer(s, case, dept, actor="agent1")
        casework.accept(s, case, actor="dep1")
        casework.request_extension(s, case, actor="dep1", days=3, reason="需现场勘查")
        casework.decide_extension(s, case, actor="sup", granted=False, comment="理由不充分")
        casework.request_extension(s, case, actor="dep1", days=3, reason="需现场勘查")
        casework.decide_extension(s, case, actor="sup", granted=True)
        casework.reply(s, case, actor="dep1", reply="已责令夜间停工。")
        casework.review(s, case, actor="agent1", approved=True)
        casework.follow_up(s, case, actor="agent1", satisfaction="满意")
        casework.close(s, case, actor="agent1")
        kinds = [k for k in citizen_kinds(s) if k != "survey"]  # 回访 survey: casework/followup.py
        assert kinds == [
            "registration", "referral_citizen", "return_citizen", "referral_citizen", "extension_citizen",
            "reply_citizen", "closing",
        ]  # fmt: skip
        (granted,) = outbox(s, kind="extension_citizen")
        assert casework.notices.when(case.deadline) in granted.body  # the refusal sent nothing
        assert password in outbox(s, kind="registration")[0].body
        assert [m.kind for m in outbox(s, to=dept.sms_number)] == ["referral_department"] * 2


def test_an_accepted_web_submission_tells_the_citizen_its_number(hotline_env: Path) -> None:
    with session_scope() as s:
        case, password = new_case(s, channel="web", caller_number="13811112222", contact="13811112222")
        assert outbox(s) == []
        casework.accept_submission(s, case, actor="agent1")
        (sms,) = outbox(s, to="13811112222")
        assert sms.kind == "acceptance" and case.case_number in sms.body and "已受理" in sms.body
        assert password not in sms.body  # the password is shown once, on the submission page


def test_a_case_that_came_by_fax_is_answered_by_fax(hotline_env: Path) -> None:
    with session_scope() as s:
        case, _ = new_case(s, caller_number=FAX, contact=FAX)  # a landline: no SMS
        assert outbox(s) == []
        case.channel = "fax"
        casework.refer(s, case, department(s), actor="agent1")
        (fax,) = outbox(s, to=FAX)
        assert fax.channel == "fax" and fax.kind == "referral_citizen"
        assert fax.title == "12345热线办理进度通知" and "市住房和城乡建设局" in fax.body


def test_supervision_and_urging_reach_the_department_by_fax(hotline_env: Path) -> None:
    with session_scope() as s:
        case, _ = new_case(s, caller_number=CITIZEN, content="幸福小区夜间施工，联系电话13955556666。")
        dept = department(s)
        dept.fax = "073184440000"
        casework.refer(s, case, dept, actor="agent1")
        casework.urge(s, case, actor="sup", message="请于本周内办结")
        (urge_fax,) = outbox(s, to="073184440000")
        assert (urge_fax.channel, urge_fax.kind, urge_fax.title) == ("fax", "urge", "催办通知单")
        assert case.case_number in urge_fax.body and "请于本周内办结" in urge_fax.body
        assert "13955556666" not in urge_fax.body  # a fax machine is shared
        # the 督办 fax within the minute travels in the same fax, under its own title
        casework.supervise(s, case, actor="leader1", instruction="请主要负责同志亲自督办")
        urge_fax, instruction_fax = outbox(s, to="073184440000")
        assert (instruction_fax.kind, instruction_fax.title) == ("instruction", "督办通知单")
        assert "请主要负责同志亲自督办" in instruction_fax.body
        assert instruction_fax.status == "collapsed" and "\n\n督办通知单\n" in urge_fax.body
        assert [m.kind for m in outbox(s, to=dept.sms_number, channel="sms")][-2:] == ["urge", "instruction"]
        number = case.case_number
    # a day later, a 督办 of its own
    with session_scope() as s:
        s.execute(update(OutboxMessage).values(created_at=utcnow() - timedelta(days=1)))
        casework.supervise(s, casework.get_case(s, number), actor="leader1", instruction="再次督办")
        assert outbox(s, to="073184440000")[-1].status == "queued"
    # delivered to the fax spool once the minute for collapsing has passed
    fax = {"fax": casework.default_transports()["fax"]}
    assert casework.deliver_outbox(new_session, fax)["sent"] == 0
    later = utcnow() + COLLAPSE_WINDOW + timedelta(seconds=1)
    assert casework.deliver_outbox(new_session, fax, now=later)["sent"] == 2
    spool = Path(get_settings().outbox_dir) / "fax"
    metas = [json.loads(p.read_text()) for p in spool.glob("*.json")]
    assert sorted(m["title"] for m in metas) == ["催办通知单", "督办通知单"]
    assert all(m["to"] == "073184440000" for m in metas)


def test_two_notices_within_a_minute_become_one_message(hotline_env: Path) -> None:
    with session_scope() as s:
        quick, password = new_case(
            s, caller_number=CITIZEN, category="咨询", content="公积金提取要什么材料？"
        )
        casework.answer_directly(s, quick, actor="agent1", answer="携带身份证到服务网点办理。")
        registration, closing = outbox(s, to=CITIZEN)
        assert (registration.kind, closing.kind) == ("registration", "closing")
        assert registration.status == "queued" and closing.status == "collapsed"
        assert closing.collapsed_into == registration.message_id
        assert password in registration.body and "已办结" in registration.body
        assert registration.body.count("【12345热线】") == 1
        # another number, another case: not joined
        other, _ = new_case(s, caller_number="13822223333")
        (own,) = outbox(s, to="13822223333")
        assert own.status == "queued" and own.collapsed_into is None
        # a minute later it is a message of its own
        s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.to == "13822223333")
            .values(created_at=utcnow() - COLLAPSE_WINDOW - timedelta(seconds=1))
        )
        casework.refer(s, other, department(s), actor="agent1")
        assert [m.status for m in outbox(s, to="13822223333")] == ["queued", "queued"]


def test_a_notice_does_not_join_a_message_already_claimed_for_sending(hotline_env: Path) -> None:
    with session_scope() as s:
        case, _ = new_case(s, caller_number=CITIZEN)
        s.execute(update(OutboxMessage).values(status="sending", attempts=1))
        casework.answer_directly(s, case, actor="agent1", answer="已答复。")
        assert [m.status for m in outbox(s, to=CITIZEN)] == ["sending", "queued"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KannelGateway]:
    if not KannelGateway.available():
        pytest.fail(kannel_missing_reason())
    gw = KannelGateway(tmp_path_factory.mktemp("kannel")).start()
    yield gw
    gw.stop()


@pytest.mark.e2e
def test_a_case_answered_on_the_phone_sends_one_sms(
    hotline_env: Path, gateway: KannelGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_KANNEL_URL", gateway.sendsms_url)
    monkeypatch.setenv("HOTLINE_KANNEL_USER", gateway.user)
    monkeypatch.setenv("HOTLINE_KANNEL_PASSWORD", gateway.password)
    reset_caches()
    caller = "1370013" + str(free_port() % 10000).zfill(4)  # a number of its own in the shared log
    before = len(gateway.received())
    with session_scope() as s:
        case, password = new_case(s, caller_number=caller, category="咨询", content="社保卡怎么补办？")
        casework.answer_directly(s, case, actor="agent1", answer="携带身份证到社保服务大厅办理。")
        number = case.case_number
    assert casework.deliver_outbox(new_session, casework.default_transports())["sent"] == 0  # held
    later = utcnow() + COLLAPSE_WINDOW + timedelta(seconds=1)
    counts = casework.deliver_outbox(new_session, casework.default_transports(), now=later)
    assert counts["sent"] == 1
    gateway.wait_for(before + 1)
    time.sleep(1.0)  # a second SMS, if any, would have arrived by now
    texts = [m.text for m in gateway.received() if m.receiver == caller]
    assert len(texts) == 1
    assert number in texts[0] and password in texts[0] and "已办结" in texts[0]
