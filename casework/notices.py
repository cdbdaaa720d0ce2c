"""Notification texts (SMS to citizens and departments, fax) and queueing them in the outbox."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from casework.calendar import LOCAL_TZ
from casework.errors import CaseError
from casework.models import OutboxMessage
from casework.outbox import (
    COLLAPSE_WINDOW,
    COLLAPSED,
    Origin,
    admit,
    collapse_into,
    current_origin,
)
from hotline.db import utcnow
from hotline.masking import mask_phones_in_text

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
    # the citizen at every step (casework/lifecycle.py names them; by fax when the case came by fax)
    "acceptance": "{sig}您的网上诉求已受理，工单编号{number}。请凭提交时获得的查询密码，拨打12345或登录网站查询办理进度。",
    "reply_citizen": "{sig}您的诉求（工单{number}）已有办理结果，可凭查询密码登录网站查看答复并评价。",
    "extension_citizen": "{sig}您的诉求（工单{number}）经批准延期办理，办理期限延至{deadline}，请耐心等待。",
    "return_citizen": "{sig}您的诉求（工单{number}）正在重新确定承办单位，请耐心等待。",
    # an assisting department (协办, casework/assisting.py); {department} is the lead (主办)
    "assist_department": "{sig}工单{number}（{category}）由{department}主办，请贵单位协办，登录系统提出协办意见。",
}
DEPARTMENT_KINDS = frozenset(
    {"referral_department", "urge", "reminder", "overdue", "instruction", "rework", "assist_department"}
)
ASSISTING_KINDS = frozenset({"assist_department"})  # to the assisting departments, not the lead
# department notices also faxed to the unit's fax number (督办 and 催办 as a document on paper)
FAX_TITLES = {"urge": "催办通知单", "instruction": "督办通知单"}
CITIZEN_FAX_TITLE = "12345热线办理进度通知"
FAX_CHANNELS = ("fax",)  # a case that came in by fax: the citizen's contact is a fax number
# notices a transition sends only when it ends with this event (decide_extension: granted, not refused)
ONLY_ON_EVENT = {"extension_citizen": "extension_granted"}


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
    counts against; raises OutboundRefused (audited: commit even when it raises). A case notice (a kind
    of TEMPLATES with the case number as `ref`) waits COLLAPSE_WINDOW before it is sent, and one queued
    within that window for the same case and number is sent in it (casework.outbox.collapse_into)."""
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
    kind: str = "fax",
) -> OutboxMessage:
    """Put a fax (title + body text, rendered to TIFF at delivery) in the outbox; like queue_sms."""
    return _queue(
        session, "fax", origin, to=to, title=title, body=body, kind=kind, ref=ref, message_id=message_id
    )


def _queue(session: Session, channel: str, origin: Origin | None, **fields: object) -> OutboxMessage:
    origin = origin or current_origin()
    to = str(fields["to"] or "").strip()
    body = str(fields["body"] or "")
    if not body.strip():
        raise CaseError("发送内容不能为空。")
    fields["to"] = to
    fields["message_id"] = fields["message_id"] or uuid.uuid4().hex
    ref, kind = fields["ref"], str(fields["kind"])
    notice = kind in TEMPLATES and isinstance(ref, str) and bool(ref)
    if notice:
        addition = body.removeprefix(SIGNATURE) if channel == "sms" else f"\n\n{fields['title']}\n{body}"
        carrier = collapse_into(
            session, channel=channel, to=to, ref=str(ref), kinds=TEMPLATES, addition=addition
        )
        if carrier is not None:  # travels in the earlier message: not sent, not counted on its own
            msg = OutboxMessage(
                channel=channel, status=COLLAPSED, collapsed_into=carrier.message_id, **fields
            )
            session.add(msg)
            session.flush()
            return msg
    # notices to departments go to numbers the administrators set: no daily cap per destination
    admit(session, origin, channel, to, capped_destination=kind not in DEPARTMENT_KINDS)
    msg = OutboxMessage(channel=channel, **fields)
    if notice:
        msg.next_attempt_at = utcnow() + COLLAPSE_WINDOW
    session.add(msg)
    session.flush()
    return msg


def announce(
    session: Session, *, numbers: list[str], text: str, ref: str | None = None, channel: str = "sms"
) -> list[OutboxMessage]:
    """The same announcement to a group of numbers by SMS or fax (one outbox message each); a number the
    outbox refuses (audited: format, daily caps) is left out."""
    queued = []
    for number in numbers:
        try:
            if channel == "fax":
                msg = queue_fax(session, to=number, title="业务公告", body=text, kind="announcement", ref=ref)
            else:
                msg = queue_sms(session, to=number, text=f"{SIGNATURE}{text}", kind="announcement", ref=ref)
            queued.append(msg)
        except CaseError:  # OutboundRefused (audited) or not a number
            continue
    return queued


def _values(case: Case) -> dict[str, object]:
    """What the notice texts may name about a case."""
    return {
        "number": case.case_number,
        "category": case.category,
        "department": case.department.name if case.department else "相关部门",
        "deadline": when(case.deadline),
        "sign_deadline": when(case.sign_deadline),
    }


def _is_mobile(number: str) -> bool:
    return number.startswith("1") and len(number) == 11 and number.isdigit()


def _citizen(session: Session, case: Case, kind: str, **values: object) -> None:
    """To the citizen: by mail when the contact is an e-mail address (casework/mailintake.py), by fax
    when the case came by fax, else by SMS to a mobile number."""
    number = case.contact or case.caller_number
    if not number:
        return
    text = render(kind, **{**_values(case), **values})
    if "@" in number:
        from casework import mailintake

        mailintake.notify(session, case, kind, text)
        return
    try:
        if case.channel in FAX_CHANNELS:
            queue_fax(session, to=number, title=CITIZEN_FAX_TITLE, body=text.removeprefix(SIGNATURE),
                      kind=kind, ref=case.case_number)  # fmt: skip
        elif _is_mobile(number):
            queue_sms(session, to=number, text=text, kind=kind, ref=case.case_number)
    except CaseError:  # OutboundRefused (audited: the number's daily cap) or a number that is none
        pass  # the case work goes on without this notice


def _department(
    session: Session, case: Case, department: Department | None, kind: str, **values: object
) -> None:
    if department is None:
        return
    if department.sms_number:
        text = render(kind, **{**_values(case), **values})
        queue_sms(session, to=department.sms_number, text=text, kind=kind, ref=case.case_number)
    if kind in FAX_TITLES and department.fax:
        body = fax_notice(case, kind, str(values.get("message") or ""))
        queue_fax(
            session, to=department.fax, title=FAX_TITLES[kind], body=body, kind=kind, ref=case.case_number
        )


def fax_notice(case: Case, kind: str, message: str) -> str:
    """The body of a 督办 / 催办 fax to the handling department: the case and what is asked."""
    what = "领导批示" if kind == "instruction" else "催办意见"
    lines = [
        f"承办单位：{case.department.name if case.department else ''}",
        f"工单编号：{case.case_number}",
        f"诉求类别：{case.category}",
        f"办理期限：{when(case.deadline)}",
    ]
    if case.topic:
        lines.append(f"诉求主题：{case.topic}")
    lines += [
        f"{what}：{message or '请抓紧办理。'}",
        f"诉求内容：{mask_phones_in_text(case.content)}",  # a fax machine is shared: no phone numbers
        "",
        "请登录12345热线系统确认并落实，按期办结反馈。",
        f"12345政务服务便民热线  {when(utcnow())}",
    ]
    return "\n".join(lines)


def registration(session: Session, case: Case, password: str) -> None:
    _citizen(session, case, "registration", password=password)


def send(
    session: Session, case: Case, kind: str, *, message: str = "", event: str = "",
    unit: Department | None = None,
) -> None:  # fmt: skip
    """Queue notice `kind` about a case (the transition table names them, casework/lifecycle.py): to the
    handling department for DEPARTMENT_KINDS (SMS, and fax for FAX_TITLES), to the assisting department
    `unit` (or every assisting one) for ASSISTING_KINDS, otherwise to the citizen (SMS, or fax for a case
    that came by fax); ONLY_ON_EVENT ones only when the transition's `event` is theirs. The 回访 survey
    is sent by casework.followup (per setting, and it marks the case as waiting for the answer)."""
    if ONLY_ON_EVENT.get(kind, event) != event:
        return
    if kind in ASSISTING_KINDS:
        from casework.assisting import assisting_departments

        for department in [unit] if unit is not None else assisting_departments(case):
            _department(session, case, department, kind, message=message)
    elif kind == "survey":
        from casework import followup

        followup.survey_after_review(session, case)
    elif kind in DEPARTMENT_KINDS:
        _department(session, case, case.department, kind, message=message)
    else:
        _citizen(session, case, kind, message=message)
