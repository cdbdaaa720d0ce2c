"""回访 and rework, and incoming SMS (both databases): the SMS survey sent when a reply is approved, its
answer by SMS through /api/sms/incoming recorded on the right case, 不满意 sending the case back to its
department with the citizen's words, any other SMS becoming a submission with an SMS back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import casework
from casework.followup import SurveyAnswer, parse_answer
from hotline.db import reset_caches, session_scope
from tests.casework.helpers import department, new_case, outbox

TOKEN = "incoming-token-456"
CITIZEN = "13812345678"


@pytest.fixture
def gateway_client(hotline_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The portal as Kannel's smsbox calls it (the incoming token set)."""
    monkeypatch.setenv("HOTLINE_KANNEL_INCOMING_TOKEN", TOKEN)
    reset_caches()
    from web.app import create_app

    with TestClient(create_app()) as client:
        yield client


def sms(client: TestClient, sender: str, text: str, token: str = TOKEN) -> int:
    resp = client.get("/api/sms/incoming", params={"from": sender, "text": text, "token": token})
    assert resp.status_code != 200 or resp.text == ""  # Kannel would send a body back to the citizen
    return resp.status_code


def reviewed_case(caller: str = CITIZEN, **kw: object) -> str:
    """A case the housing bureau answered and the centre approved (the survey goes out then)."""
    with session_scope() as s:
        case, _ = new_case(s, caller_number=caller, **kw)
        casework.refer(s, case, department(s), actor="agent1")
        casework.accept(s, case, actor="dep1")
        casework.reply(s, case, actor="dep1", reply="已责令施工单位夜间停工。")
        casework.review(s, case, actor="agent1", approved=True)
        return case.case_number


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("1", SurveyAnswer("满意")),
        (" 2 ", SurveyAnswer("基本满意")),
        ("３，路灯还是不亮", SurveyAnswer("不满意", "路灯还是不亮")),
        ("3 没有人来处理", SurveyAnswer("不满意", "没有人来处理")),
        ("不满意：没有人联系我", SurveyAnswer("不满意", "没有人联系我")),
        ("基本满意", SurveyAnswer("基本满意")),
        ("满意，谢谢", SurveyAnswer("满意", "谢谢")),
        ("12号楼的路灯坏了", None),
        ("4", None),
        ("幸福路井盖丢失", None),
    ],
)
def test_survey_answers_are_read_from_the_sms_text(text: str, answer: SurveyAnswer | None) -> None:
    assert parse_answer(text) == answer


def test_approving_a_reply_sends_the_survey_and_marks_the_case(hotline_env: Path) -> None:
    number = reviewed_case()
    with session_scope() as s:
        (survey,) = outbox(s, kind="survey")
        assert survey.to == CITIZEN and survey.ref == number
        assert survey.body == f"【12345热线】您对工单{number}的办理结果是否满意？满意回复1，基本满意回复2，不满意回复3。"
        case = casework.get_case(s, number)
        assert case.status == "reviewed" and "survey" in case.flags
        assert casework.awaiting_survey(s, "+86 138 1234 5678").case_number == number
        assert [e.label for e in casework.timeline(s, case)][-2:] == ["审核通过", "短信回访"]
        with pytest.raises(casework.CaseError, match="已发送短信回访"):
            casework.send_survey(s, case, actor="agent1")


def test_manual_setting_leaves_the_survey_to_the_agent_and_landlines_get_none(
    hotline_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_FOLLOWUP_SURVEY", "manual")
    reset_caches()
    mobile, landline = reviewed_case(), reviewed_case(caller="021-55556666")
    with session_scope() as s:
        assert outbox(s, kind="survey") == []
        assert casework.send_survey(s, casework.get_case(s, landline), actor="agent1") is False
        assert casework.send_survey(s, casework.get_case(s, mobile), actor="agent1") is True
        assert [m.ref for m in outbox(s, kind="survey")] == [mobile]


def test_satisfied_answer_by_sms_is_the_follow_up_result(gateway_client: TestClient) -> None:
    older, newer = reviewed_case(), reviewed_case(content="小区门口路灯不亮，晚上很黑。")
    assert sms(gateway_client, "+8613812345678", "1") == 200
    with session_scope() as s:
        answered = casework.get_case(s, newer)  # the latest survey sent to that number
        assert answered.status == "followed_up" and answered.satisfaction == "满意"
        assert "survey" not in answered.flags
        last = casework.timeline(s, answered)[-1]
        assert (last.label, last.actor, last.comment) == ("回访", "sms", "满意")
        assert casework.get_case(s, older).status == "reviewed"
    assert sms(gateway_client, CITIZEN, "2") == 200
    with session_scope() as s:
        assert casework.get_case(s, older).satisfaction == "基本满意"
        assert casework.review_queue(s) == []  # both were answers, not new requests


def test_dissatisfied_answer_sends_the_case_back_for_rework(gateway_client: TestClient) -> None:
    number = reviewed_case()
    with session_scope() as s:
        old_deadline = casework.get_case(s, number).deadline
    assert sms(gateway_client, CITIZEN, "3 夜里还在施工，根本没停") == 200
    with session_scope() as s:
        case = casework.get_case(s, number)
        assert case.status == "in_progress" and case.satisfaction == "不满意"
        assert "reworked" in case.flags and "survey" not in case.flags
        assert case.deadline >= old_deadline  # a new handling period from now (same day here)
        last = casework.timeline(s, case)[-1]
        assert (last.label, last.comment) == ("不满意重办", "不满意：夜里还在施工，根本没停")
        (to_department,) = outbox(s, kind="rework")
        assert to_department.to == "13900000001" and "夜里还在施工，根本没停" in to_department.body
        assert number in to_department.body
        (to_citizen,) = outbox(s, kind="rework_citizen")
        assert to_citizen.to == CITIZEN and "市住房和城乡建设局重新办理" in to_citizen.body
        kpis = casework.dashboard_kpis(s)
        assert kpis["reworked"] == 1 and kpis["rework_by_department"] == {"市住房和城乡建设局": 1}
    # the department answers again, the centre approves: a new survey goes out, and 满意 ends it
    with session_scope() as s:
        case = casework.get_case(s, number)
        casework.reply(s, case, actor="dep1", reply="已查处并罚款，施工单位承诺夜间停工。")
        casework.review(s, case, actor="agent1", approved=True)
        assert len(outbox(s, kind="survey")) == 2
    assert sms(gateway_client, CITIZEN, "满意") == 200
    with session_scope() as s:
        case = casework.get_case(s, number)
        assert case.status == "followed_up" and case.satisfaction == "满意"


def test_other_sms_becomes_a_submission_with_its_number_sent_back(gateway_client: TestClient) -> None:
    waiting = reviewed_case()  # waits for an answer from CITIZEN, not from these numbers
    assert sms(gateway_client, "13700001111", "幸福路12号井盖丢失，晚上很危险，我要投诉") == 200
    assert sms(gateway_client, "13700002222", "1") == 200  # no survey waits for this number: a request
    with session_scope() as s:
        first, second = casework.review_queue(s)
        assert (first.channel, first.status, first.caller_number) == ("sms", "pending_review", "13700001111")
        assert first.category == "投诉" and "井盖丢失" in first.content
        assert (second.caller_number, second.content, second.category) == ("13700002222", "1", "咨询")
        reply = outbox(s, kind="sms_received", to="13700001111")[0].body
        assert first.case_number in reply and "查询密码" in reply
        assert casework.get_case(s, waiting).status == "reviewed"


def test_incoming_sms_needs_the_gateway_token(
    gateway_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sms(gateway_client, CITIZEN, "路灯坏了", token="guess") == 403
    assert sms(gateway_client, CITIZEN, "路灯坏了", token="") == 403
    monkeypatch.setenv("HOTLINE_KANNEL_INCOMING_TOKEN", "")
    reset_caches()
    assert sms(gateway_client, CITIZEN, "路灯坏了", token="") == 403
    assert sms(gateway_client, CITIZEN, "   ", token="") == 403
    with session_scope() as s:
        assert casework.review_queue(s) == []
