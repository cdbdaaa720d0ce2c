"""Incoming messages: one dispatcher per channel decides what a message from a citizen is and records
it. An SMS (Kannel's smsbox calls /api/sms/incoming, web/routes/sms.py) is the answer to a 回访 survey
the hotline sent to that number (casework/followup.py), or else a new request: a case in the agents'
review queue like a web submission (channel "sms", status pending_review), with an SMS back giving its
number and query password. E-mail intake follows the same pattern."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from casework import followup
from casework.calendar import categories
from casework.cases import create_case
from casework.errors import CaseChanged, CaseError, IllegalTransition
from casework.notices import queue_sms, render
from casework.outbox import OutboundRefused, normalize_number
from hotline.masking import mask_phone

log = logging.getLogger("hotline.inbound")

MAX_SMS_CHARS = 2000  # a long (concatenated) SMS is at most a few hundred characters
SMS_ACTOR = "sms"
DEFAULT_CATEGORY = "咨询"


@dataclass(frozen=True)
class Received:
    """What became of an incoming message: `kind` is "survey_answer" (recorded on case_number),
    "submission" (case_number created) or "ignored" (`reason` says why)."""

    kind: str
    case_number: str | None = None
    reason: str = ""


def guess_category(session: Session, text: str) -> str:
    """The case category a message names (投诉, 求助, ...), else 咨询; the agent corrects it at review."""
    return next((c for c in categories(session) if c in text), DEFAULT_CATEGORY)


def receive_sms(session: Session, sender: str, text: str) -> Received:
    """Dispatch an SMS from `sender`: a survey answer for the latest case waiting for one from that
    number, or a new submission. Runs in the caller's transaction (commit after it, also when it
    returns "ignored": a refused auto-reply is audited)."""
    number = normalize_number(sender)
    text = (text or "").strip()[:MAX_SMS_CHARS]
    if not number or len(number) > 32 or not text:
        return Received("ignored", reason="empty")
    answer = followup.parse_answer(text)
    if answer is not None:
        case = followup.awaiting_survey(session, number)
        if case is not None:
            try:
                followup.record_answer(session, case, answer, actor=SMS_ACTOR)
            except (CaseChanged, IllegalTransition):  # answered a moment ago (another SMS, an agent)
                return Received("ignored", case.case_number, reason="already answered")
            log.info("survey answer %s for case %s from %s", answer.satisfaction, case.case_number,
                     mask_phone(number))  # fmt: skip
            return Received("survey_answer", case.case_number)
    try:
        case, password = create_case(
            session,
            channel="sms",
            caller_number=number,
            contact=number,
            content=text,
            category=guess_category(session, text),
            actor=SMS_ACTOR,
            client_key=f"sms:{number}",
        )
    except CaseError as exc:  # too many from this number within the hour
        log.warning("SMS from %s not taken: %s", mask_phone(number), exc)
        return Received("ignored", reason=str(exc))
    reply = render("sms_received", number=case.case_number, password=password)
    try:
        queue_sms(session, to=number, text=reply, kind="sms_received", ref=case.case_number)
    except OutboundRefused:
        pass  # audited; the submission stands (the number's daily cap is reached)
    return Received("submission", case.case_number)
