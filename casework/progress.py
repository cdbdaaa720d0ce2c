"""What a citizen sees of their case after the progress query: the public timeline (registered, referred
to a department, replied, extended, closed — never internal notes, staff names, urging or supervision),
the department's reply once the centre has approved it, and the online satisfaction rating, recorded as
the case's 回访 result (casework.workflow.follow_up: the same as the agent's form and the SMS survey;
不满意 sends the case back for rework)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from casework import lifecycle, workflow
from casework.cases import ProgressView
from casework.errors import CaseError
from casework.models import Case, CaseEvent
from casework.queries import timeline
from hotline.masking import mask_phones_in_text

# The events a citizen sees, in their words ({department}: the unit handling the case then). Any other
# event (notes, urging, supervision, reviews sent back, extension requests ...) stays internal.
PUBLIC_EVENTS = {
    "submitted": "网上留言已提交，等待受理审核",
    "registered": "诉求已登记",
    "accepted_submission": "诉求已受理",
    "rejected_submission": "诉求不予受理",
    "answered": "热线已直接答复",
    "referred": "已转交{department}办理",
    "accepted": "{department}已签收",
    "started": "{department}开始办理",
    "replied": "{department}已反馈办理结果，热线中心正在审核",
    "returned": "正在重新确定承办单位",
    "extension_granted": "经批准延期办理",
    "reviewed": "办理结果已审核，可查看答复",
    "followed_up": "已回访",
    "reworked": "根据您的评价，已要求{department}重新办理",
    "closed": "已办结",
    "merged": "已并入其他工单办理",
}
REPLY_SHOWN = ("reviewed", "followed_up", "closed")  # the centre has approved the department's reply
RATINGS = workflow.SATISFACTION
ONLINE_ACTOR = "citizen:web"
MAX_COMMENT = 500


@dataclass(frozen=True)
class PublicEvent:
    at: datetime
    text: str


@dataclass(frozen=True)
class CitizenView:
    """The progress page's case details for the citizen."""

    events: list[PublicEvent]
    reply: str  # the approved reply or the direct answer, phone numbers masked; "" while there is none
    can_rate: bool  # waiting for 回访: the citizen may rate online (once per reviewed reply)
    satisfaction: str | None  # the latest rating, from any channel


def _department(event: CaseEvent, current: str) -> str:
    """The department a referral names ("转派至X" or "转派至X：note": the note is internal)."""
    if event.action == "referred" and event.comment.startswith("转派至"):
        return event.comment.removeprefix("转派至").split("：", 1)[0] or current
    return current


def public_timeline(session: Session, case: Case) -> list[PublicEvent]:
    events = []
    department = "承办单位"
    for event in timeline(session, case):
        department = _department(event, department)
        text = PUBLIC_EVENTS.get(event.action)
        if text is not None:
            events.append(PublicEvent(event.at, text.format(department=department)))
        if event.action == "returned":
            department = "承办单位"
    return events


def can_rate(case: Case) -> bool:
    return case.status in lifecycle.ACTIONS["follow_up"].sources


def progress_view(case: Case) -> ProgressView:
    """The status part of the page, as casework.check_progress gives it after the password."""
    return ProgressView(case.case_number, case.status_label, lifecycle.citizen_text(case), case.updated_at)


def citizen_view(session: Session, case: Case) -> CitizenView:
    reply = ""
    if case.status in REPLY_SHOWN:
        reply = mask_phones_in_text(case.reply_text or case.answer or "")
    return CitizenView(public_timeline(session, case), reply, can_rate(case), case.satisfaction)


def rate_online(session: Session, case: Case, *, satisfaction: str, comment: str = "") -> Case:
    """The citizen's rating from the progress page, as the case's 回访 result; refused (CaseError) when
    the case is not waiting for one (not yet replied, or already rated)."""
    if satisfaction not in RATINGS:
        raise CaseError("请选择满意、基本满意或不满意。")
    if not can_rate(case):
        raise CaseError("该工单目前不能评价（尚未答复或已评价）。")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise CaseError(f"评价意见不能超过{MAX_COMMENT}字。")
    return workflow.follow_up(session, case, actor=ONLINE_ACTOR, satisfaction=satisfaction, comment=comment)
