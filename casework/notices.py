"""Notification texts (SMS to citizens and departments, fax) and queueing them in the outbox."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from casework.calendar import LOCAL_TZ
from casework.models import OutboxMessage
from casework.outbox import Origin, OutboundRefused, admit, current_origin

if TYPE_CHECKING:
    from datetime import datetime

    from casework.models import Case, Department

SIGNATURE = "【12345热线】"
TEMPLATES = {
    "registration": "{sig}您的诉求已登记，工单编号{number}，查询密码{password}。可拨打12345或登录网站查询办理进度。",
    "referral_citizen": "{sig}您的诉求（工单{number}）已转交{department}办理，请留意答复。",
    "closing": "{sig}您的诉求（工单{number}）已办结，感谢您对12345热线的支持。",
    "referral_department": "{sig}新工单{number}（{category}）已转派贵单位，请于{sign_deadline}前签收、{deadline}前办结反馈。",
    "urge": "{sig}催办：工单{number}（{category}）办理期限{deadline}，请抓紧办理并及时反馈。{message}",
    "reminder": "{sig}提醒：工单{number}将于{deadline}到期，请按时办结反馈。",
    "overdue": "{sig}工单{number}已超过办理期限{deadline}，请立即办理并说明原因。",
    "instruction": "{sig}督办：工单{number}有领导批示，请登录系统确认并落实。",
    # 回访 and rework, SMS intake (casework/followup.py, casework/inbound.py)
    "survey": "{sig}您对工单{number}的办理结果是否满意？满意回复1，基本满意回复2，不满意回复3。",
    "rework": "{sig}工单{number}回访不满意，已退回贵单位重新办理，请于{deadline}前办结反馈。市民意见：{message}",
    "rework_citizen": "{sig}已收到您对工单{number}的评价，我们已要求{department}重新办理，请留意答复。",
    "sms_received": "{sig}您的短信已收到，工单编号{number}，查询密码{password}。我们将尽快受理，可拨打12345或登录网站查询办理进度。",
}
DEPARTMENT_KINDS = frozenset({"referral_department", "urge", "reminder", "overdue", "instruction", "rework"})


def when(moment: datetime | None) -> str:
    """A deadline as Chinese citizens read it: 11月27日."""
    if moment is None:
        return ""
    local = moment.astimezone(LOCAL_TZ)
    return f"{local.month}月{local.day}日"


def render(kind: str, **values: object) -> str:
    return TEMPLATES[kind].format(sig=SIGNATURE, **values)


def queue_sms(
    session: Session,
    *,
    to: str,
    text: str,
    kind: str,
    ref: str | None = None,
    message_id: str | None = None,
    origin: Origin | None = None,
) -> OutboxMessage:
    """Put an SMS in the outbox (delivered by deliver_outbox; message_id makes delivery idempotent).
    `origin` (default: the current one, casework.acting_as) decides where it may go and whose caps it
    counts against; raises OutboundRefused (audited: commit even when it raises)."""
    return _queue(
        session, "sms", origin, to=to, title="", body=text, kind=kind, ref=ref, message_id=message_id
    )


def queue_fax(
    session: Session,
    *,
    to: str,
    title: str,
    body: str,
    ref: str | None = None,
    message_id: str | None = None,
    origin: Origin | None = None,
) -> OutboxMessage:
    """Put a fax (title + body text, rendered to TIFF at delivery) in the outbox; like queue_sms."""
    return _queue(
        session, "fax", origin, to=to, title=title, body=body, kind="fax", ref=ref, message_id=message_id
    )


def _queue(session: Session, channel: str, origin: Origin | None, **fields: object) -> OutboxMessage:
    from casework.errors import CaseError

    origin = origin or current_origin()
    to = str(fields["to"] or "").strip()
    if not str(fields["body"] or "").strip():
        raise CaseError("发送内容不能为空。")
    # notices to departments go to numbers the administrators set: no daily cap per destination
    admit(session, origin, channel, to, capped_destination=fields["kind"] not in DEPARTMENT_KINDS)
    fields["to"] = to
    fields["message_id"] = fields["message_id"] or uuid.uuid4().hex
    msg = OutboxMessage(channel=channel, **fields)
    session.add(msg)
    session.flush()
    return msg


def announce(
    session: Session, *, numbers: list[str], text: str, ref: str | None = None
) -> list[OutboxMessage]:
    """The same announcement to a group of numbers (one outbox message each)."""
    return [
        queue_sms(session, to=n, text=f"{SIGNATURE}{text}", kind="announcement", ref=ref) for n in numbers
    ]


def _citizen(session: Session, case: Case, kind: str, **values: object) -> None:
    number = case.contact or case.caller_number
    if number and number.startswith("1") and len(number) == 11:  # mobile phones only
        text = render(kind, number=case.case_number, **values)
        try:
            queue_sms(session, to=number, text=text, kind=kind, ref=case.case_number)
        except OutboundRefused:
            pass  # audited; the case work goes on without this notice (the number's daily cap is reached)


def _department(
    session: Session, case: Case, department: Department | None, kind: str, **values: object
) -> None:
    if department is not None and department.sms_number:
        text = render(
            kind,
            number=case.case_number,
            category=case.category,
            deadline=when(case.deadline),
            sign_deadline=when(case.sign_deadline),
            **values,
        )
        queue_sms(session, to=department.sms_number, text=text, kind=kind, ref=case.case_number)


def registration(session: Session, case: Case, password: str) -> None:
    _citizen(session, case, "registration", password=password)


def send(session: Session, case: Case, kind: str, *, message: str = "") -> None:
    """Queue notice `kind` about a case (the transition table names them, casework/lifecycle.py): to the
    handling department for DEPARTMENT_KINDS, otherwise to the citizen. The 回访 survey is sent by
    casework.followup (per setting, and it marks the case as waiting for the answer)."""
    if kind == "survey":
        from casework import followup

        followup.survey_after_review(session, case)
    elif kind in DEPARTMENT_KINDS:
        _department(session, case, case.department, kind, message=message)
    else:
        department = case.department.name if case.department else "相关部门"
        _citizen(session, case, kind, department=department, message=message)

