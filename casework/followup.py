"""回访 by SMS: the survey sent to the citizen once the department's reply is approved, and its answer.

The survey ("满意回复1，基本满意回复2，不满意回复3", notice `survey`) goes to the citizen's mobile
when the centre approves the reply (setting `followup_survey = "review"`, the default) or when an agent
sends it from the 回访 list (`"manual"`: only then). The case then carries the flag "survey" while it
waits in status reviewed. An incoming SMS (casework.inbound.receive_sms) from that number that reads as
an answer is recorded on the latest such case as its 回访 result, like the agent's form
(casework.workflow.follow_up): 不满意 sends the case back to its department (rework)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from casework import lifecycle, workflow
from casework.cases import add_event
from casework.errors import CaseError
from casework.models import Case
from casework.notices import render
from casework.outbox import OutboundRefused, normalize_number
from casework.workflow import SATISFACTION, SURVEY_FLAG
from hotline.config import get_settings
from hotline.masking import mask_phone

ANSWERS = {"1": "满意", "2": "基本满意", "3": "不满意"}
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_DIGIT_ANSWER = re.compile(r"^([123])(?!\d)[\s,，.。:：;；、!！]*(.*)$", re.S)
_SEPARATORS = " ,，.。:：;；、!！\n\t"
AWAITING_LIMIT = 20  # reviewed cases of one number looked at for a pending survey


@dataclass(frozen=True)
class SurveyAnswer:
    satisfaction: str
    comment: str = ""


def parse_answer(text: str) -> SurveyAnswer | None:
    """The survey answer an SMS gives ("1", "３ 路灯还是不亮", "不满意，没有人来"), or None."""
    text = (text or "").strip()
    text = unicodedata.normalize("NFKC", text[:1]) + text[1:]  # a full-width digit; the words stay as typed
    match = _DIGIT_ANSWER.match(text)
    if match:
        return SurveyAnswer(ANSWERS[match[1]], match[2].strip())
    for word in sorted(SATISFACTION, key=len, reverse=True):  # 基本满意 and 不满意 before 满意
        if text.startswith(word):
            return SurveyAnswer(word, text[len(word) :].lstrip(_SEPARATORS).strip())
    return None


def survey_number(case: Case) -> str | None:
    """The citizen's mobile number for the survey, or None (a landline cannot answer by SMS)."""
    number = normalize_number(case.contact or case.caller_number or "")
    return number if _MOBILE.match(number) else None


def waiting_for_answer(case: Case) -> bool:
    return case.status == "reviewed" and SURVEY_FLAG in (case.flags or [])


def send_survey(session: Session, case: Case, *, actor: str) -> bool:
    """Queue the survey SMS for a case waiting for 回访 and mark it as waiting for the answer. False when
    the citizen has no mobile number or the number's daily SMS cap refuses it (audited)."""
    lifecycle.check(case, "follow_up")
    if waiting_for_answer(case):
        raise CaseError(f"工单{case.case_number}已发送短信回访，正在等待市民回复。")
    number = survey_number(case)
    if number is None:
        return False
    from casework.notices import queue_sms

    try:
        queue_sms(session, to=number, text=render("survey", number=case.case_number), kind="survey",
                  ref=case.case_number)  # fmt: skip
    except OutboundRefused:
        return False
    case.flags = [*(case.flags or []), SURVEY_FLAG]
    add_event(session, case, actor=actor, action="survey_sent", comment=f"短信发送至{mask_phone(number)}")
    session.flush()
    return True


def survey_after_review(session: Session, case: Case) -> None:
    """The reply was approved: send the survey now unless the setting leaves it to the agents."""
    if get_settings().followup_survey == "review":
        send_survey(session, case, actor="system")


def awaiting_survey(session: Session, number: str) -> Case | None:
    """The latest case waiting for an answer to a survey sent to this number."""
    number = normalize_number(number)
    if not number:
        return None
    stmt = (
        select(Case)
        .where(Case.status == "reviewed", or_(Case.caller_number == number, Case.contact == number))
        .order_by(Case.updated_at.desc(), Case.id.desc())
        .limit(AWAITING_LIMIT)
    )
    return next((case for case in session.scalars(stmt) if waiting_for_answer(case)), None)


def record_answer(session: Session, case: Case, answer: SurveyAnswer, *, actor: str = "sms") -> Case:
    """The citizen's answer as the case's 回访 result (不满意: rework)."""
    return workflow.follow_up(
        session, case, actor=actor, satisfaction=answer.satisfaction, comment=answer.comment
    )
